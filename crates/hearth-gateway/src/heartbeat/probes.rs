//! Running the heartbeat's probes: each command in the sandbox the agent's `exec` uses
//! (same policy, mechanism and `[sandbox.env]`), its exit status read as
//!
//! - 0: fine; its stdout is news when it differs from the last tick's (SHA-256),
//! - 1: no news (its output is not compared or kept),
//! - 2: attention: wake the model whatever the output,
//! - anything else, a signal or a timeout: the probe failed (recorded, no wake).

use std::time::Duration;

use hearth_runtime::config::ProbeConfig;
use hearth_sandbox::{CommandLine, CommandSpec, MechanismSettings, SandboxPolicy};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Bytes of a probe's stdout and stderr kept (head and tail beyond it).
const CAPTURE_BYTES: usize = 64 * 1024;
/// Characters of a probe's output shown to the model.
const SHOWN_CHARS: usize = 2000;

/// How a probe's exit status reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeStatus {
    /// Exit 0: compare the output.
    Fine,
    /// Exit 1: nothing new.
    NoNews,
    /// Exit 2: wake the model.
    Attention,
    /// It could not run, timed out, was killed or exited otherwise.
    Failed(String),
}

/// One probe's result.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub name: String,
    pub status: ProbeStatus,
    /// Its stdout (lossy UTF-8).
    pub output: String,
    /// SHA-256 of its stdout, hex.
    pub hash: String,
}

impl ProbeReport {
    /// The output as the model is shown it: trimmed, cut at [`SHOWN_CHARS`].
    pub fn shown_output(&self) -> String {
        let trimmed = self.output.trim();
        let mut shown: String = trimmed.chars().take(SHOWN_CHARS).collect();
        if trimmed.chars().count() > SHOWN_CHARS {
            shown.push_str("\n[cut]");
        }
        shown
    }
}

/// Where and how probes run.
#[derive(Debug, Clone)]
pub struct ProbeSandbox {
    pub policy: SandboxPolicy,
    pub mechanism: MechanismSettings,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

/// Runs each probe in turn.
pub async fn run_probes(
    sandbox: &ProbeSandbox,
    probes: &[ProbeConfig],
    cancel: &CancellationToken,
) -> Vec<ProbeReport> {
    let mut reports = Vec::with_capacity(probes.len());
    for probe in probes {
        reports.push(run_probe(sandbox, probe, cancel).await);
    }
    reports
}

async fn run_probe(
    sandbox: &ProbeSandbox,
    probe: &ProbeConfig,
    cancel: &CancellationToken,
) -> ProbeReport {
    let spec = CommandSpec {
        command: CommandLine::Shell(probe.command.clone()),
        cwd: sandbox.policy.workspace.clone(),
        env: sandbox.env.clone(),
        timeout: sandbox.timeout,
        output_limit: CAPTURE_BYTES,
    };
    let result =
        hearth_sandbox::run_using(&sandbox.mechanism, &sandbox.policy, &spec, cancel).await;
    let (status, stdout) = match result {
        Ok(output) => {
            let status = if output.timed_out {
                ProbeStatus::Failed(format!("timed out after {:?}", sandbox.timeout))
            } else if output.cancelled {
                ProbeStatus::Failed("cancelled".into())
            } else {
                match (output.exit_code, output.signal) {
                    (Some(0), _) => ProbeStatus::Fine,
                    (Some(1), _) => ProbeStatus::NoNews,
                    (Some(2), _) => ProbeStatus::Attention,
                    (Some(code), _) => ProbeStatus::Failed(failed_with(code, &output.stderr)),
                    (None, Some(signal)) => {
                        ProbeStatus::Failed(format!("killed by signal {signal}"))
                    }
                    (None, None) => ProbeStatus::Failed("ended with no status".into()),
                }
            };
            (status, output.stdout)
        }
        Err(err) => (
            ProbeStatus::Failed(format!("cannot run: {err}")),
            Vec::new(),
        ),
    };
    ProbeReport {
        name: probe.name.clone(),
        status,
        output: String::from_utf8_lossy(&stdout).into_owned(),
        hash: hex_sha256(&stdout),
    }
}

/// `exit code N`, and the start of stderr when there is any.
fn failed_with(code: i32, stderr: &[u8]) -> String {
    let stderr: String = String::from_utf8_lossy(stderr)
        .trim()
        .chars()
        .take(200)
        .collect();
    if stderr.is_empty() {
        format!("exit code {code}")
    } else {
        format!("exit code {code}: {stderr}")
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            super::hex_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
