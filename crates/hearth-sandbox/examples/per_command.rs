//! What the sandbox adds to each command an agent runs: `true` run RUNS times through
//! `hearth_sandbox::run` in one process (as the `exec` tool does, the mechanism probed
//! once), sandboxed and in full-access, under each mechanism. Prints one JSON object.
//!
//! Usage: cargo run --release -p hearth-sandbox --example per_command -- [RUNS]

use std::time::{Duration, Instant};

use hearth_sandbox::{
    probe_bwrap, probe_landlock, run_with, CommandLine, CommandSpec, HelperProgram, Mechanism,
    SandboxMode, SandboxPolicy,
};
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map_or(Ok(50), |n| n.parse())?;
    let workspace = tempfile::tempdir()?;
    let helper = std::env::current_exe()?
        .parent()
        .and_then(|dir| dir.parent())
        .map(|dir| dir.join("hearth-sandbox-helper"))
        .ok_or("no target dir")?;
    let mechanisms = [
        (
            "bubblewrap",
            probe_bwrap(std::path::Path::new("/usr/bin/bwrap")),
        ),
        (
            "landlock",
            probe_landlock(&HelperProgram {
                program: helper,
                args: Vec::new(),
            }),
        ),
    ];
    let spec = CommandSpec {
        command: CommandLine::Argv(vec!["true".into()]),
        cwd: workspace.path().to_path_buf(),
        env: Vec::new(),
        timeout: Duration::from_secs(10),
        output_limit: 4096,
    };
    let policy = |mode| SandboxPolicy {
        mode,
        workspace: workspace.path().to_path_buf(),
        network: false,
        hidden_paths: Vec::new(),
        readable_paths: Vec::new(),
        read_only_paths: Vec::new(),
        limits: Default::default(),
    };
    let cancel = CancellationToken::new();
    let median = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        (samples[samples.len() / 2] * 1000.0).round() / 1000.0
    };
    let mut report = serde_json::Map::new();
    report.insert("runs".into(), runs.into());
    let mut full = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        run_with(
            &mechanisms[0].1,
            &policy(SandboxMode::FullAccess),
            &spec,
            &cancel,
        )
        .await?;
        full.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let full = median(full);
    report.insert("median_ms_full_access".into(), full.into());
    for (name, mechanism) in &mechanisms {
        if matches!(mechanism, Mechanism::Unavailable { .. }) {
            report.insert((*name).into(), mechanism.to_string().into());
            continue;
        }
        let mut samples = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            run_with(
                mechanism,
                &policy(SandboxMode::WorkspaceWrite),
                &spec,
                &cancel,
            )
            .await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let sandboxed = median(samples);
        report.insert(
            (*name).into(),
            serde_json::json!({"median_ms": sandboxed, "added_ms": ((sandboxed - full) * 1000.0).round() / 1000.0}),
        );
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}
