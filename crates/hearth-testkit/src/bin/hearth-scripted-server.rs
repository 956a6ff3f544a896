//! `hearth-scripted-server`: runs the scripted model server from a JSON script file
//! for benchmarks and shell tests, optionally appending each request to a JSONL file.
//! With `--agentdojo-index` it serves one of the AgentDojo scripted models instead
//! (`bench/injection.py`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Parser;
use hearth_testkit::{agentdojo, RecordedRequest, Script, ScriptedServer, ServerOptions};

/// Serve a scripted model (OpenAI Chat Completions and Anthropic Messages) on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "hearth-scripted-server", version)]
struct Arguments {
    /// The script: {"steps": [...]} as described in the hearth-testkit docs.
    #[arg(
        long,
        value_name = "FILE.json",
        required_unless_present = "agentdojo_index"
    )]
    script: Option<PathBuf>,
    /// Serve an AgentDojo scripted model over this task_index.json instead of a script.
    #[arg(long, value_name = "task_index.json", conflicts_with = "script")]
    agentdojo_index: Option<PathBuf>,
    /// Which AgentDojo model: the honest one or the obedient victim.
    #[arg(long, value_enum, default_value = "honest")]
    agentdojo_role: AgentDojoRole,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Append each request received as one JSON line to this file.
    #[arg(long, value_name = "FILE.jsonl")]
    record: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match serve(arguments).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hearth-scripted-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AgentDojoRole {
    Honest,
    Victim,
}

/// Serves the script until Ctrl-C or SIGTERM.
async fn serve(arguments: Arguments) -> anyhow::Result<()> {
    let (script, responder) = match (&arguments.script, &arguments.agentdojo_index) {
        (Some(path), _) => (Script::load(path)?, None),
        (None, Some(index)) => {
            let index = std::sync::Arc::new(agentdojo::TaskIndex::load(index)?);
            let role = match arguments.agentdojo_role {
                AgentDojoRole::Honest => agentdojo::Role::Honest,
                AgentDojoRole::Victim => agentdojo::Role::Victim,
            };
            let model = agentdojo::AgentDojoModel::new(index, role);
            (Script::default(), Some(model.responder()))
        }
        (None, None) => anyhow::bail!("give --script FILE.json or --agentdojo-index FILE"),
    };
    let on_request = match &arguments.record {
        Some(path) => Some(record_to(path)?),
        None => None,
    };
    let options = ServerOptions {
        port: arguments.port,
        on_request,
        responder,
    };
    // Handlers first: whoever reads "listening" may send SIGTERM at once.
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate =
        signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    let mut interrupt =
        signal(SignalKind::interrupt()).context("cannot install the Ctrl-C handler")?;
    let server = ScriptedServer::start_with(script, options)
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{}; pick another --port or 0 for any free one",
                arguments.port
            )
        })?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", server.base_url())?;
    stdout.flush()?;
    drop(stdout);
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    // A benchmark's client broke "every tool call gets one result": say so, don't panic.
    for violation in server.take_violations() {
        eprintln!("hearth-scripted-server: {violation}");
    }
    server.shutdown().await;
    Ok(())
}

/// An observer appending each request to `path` as a JSON line, flushed at once.
fn record_to(path: &PathBuf) -> anyhow::Result<hearth_testkit::RequestObserver> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| {
            format!(
                "record file {}: cannot open it for appending; check the directory exists and is writable",
                path.display()
            )
        })?;
    let file = Arc::new(Mutex::new(file));
    let path = path.clone();
    Ok(Arc::new(move |request: &RecordedRequest| {
        let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = append_line(&mut file, request) {
            eprintln!(
                "record file {}: cannot append a request: {error}",
                path.display()
            );
        }
    }))
}

fn append_line(file: &mut File, request: &RecordedRequest) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.flush()?;
    Ok(())
}
