//! `hearth sandbox run`: a command run exactly as the exec tool runs one, through the
//! same `hearth_sandbox::run_using` with the same mechanism settings, so users and tests can see what the sandbox allows.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use hearth_sandbox::{CommandLine, CommandSpec, SandboxMode};
use tokio_util::sync::CancellationToken;

use crate::cli::{AgentArgs, SandboxArgs, SandboxCommand};
use crate::commands::run::cancel_on_ctrl_c;
use crate::wiring::resolve;

/// Output kept per stream: generous, since a person asked for it directly.
const OUTPUT_LIMIT: usize = 64 << 20;

pub async fn sandbox(args: SandboxArgs) -> Result<ExitCode> {
    let SandboxCommand::Run {
        mode,
        network,
        workspace,
        timeout_secs,
        command,
    } = args.command;
    let agent_args = AgentArgs {
        model: None,
        workspace,
        resume: None,
        sandbox: mode,
        approval: None,
        max_steps: None,
        no_stream: false,
    };
    let resolved = resolve(&agent_args)?;
    let mut policy = resolved.sandbox.clone();
    policy.network |= network;
    if policy.mode == SandboxMode::FullAccess {
        eprintln!("hearth: full-access: running without a sandbox");
    }
    let spec = CommandSpec {
        command: CommandLine::Argv(command),
        cwd: std::env::current_dir()
            .ok()
            .filter(|dir| dir.starts_with(&policy.workspace))
            .unwrap_or_else(|| policy.workspace.clone()),
        // The same environment exec gives a command: [sandbox.env], secrets resolved.
        env: resolved.command_env()?,
        timeout: Duration::from_secs(timeout_secs),
        output_limit: OUTPUT_LIMIT,
    };
    let cancel = CancellationToken::new();
    cancel_on_ctrl_c(cancel.clone());
    let output = hearth_sandbox::run_using(&resolved.env.sandbox, &policy, &spec, &cancel).await?;
    std::io::stdout().write_all(&output.stdout)?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(&output.stderr)?;
    if output.timed_out {
        eprintln!("hearth: timed out after {timeout_secs} s; the process group was killed");
    }
    let code = match (output.exit_code, output.signal) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}
