//! `hearth heartbeat`: run one tick of the `[heartbeat]` here (for testing a checklist
//! and its probes) and list past ticks. `hearth serve` runs the ticks on their own; see
//! hearth-gateway's `heartbeat`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use hearth_gateway::heartbeat::Heartbeat;
use hearth_gateway::{ApprovalHub, SessionHub};
use hearth_store::{HeartbeatTick, Store, TickOutcome};
use tokio_util::sync::CancellationToken;

use crate::cli::AgentArgs;
use crate::home::Home;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};
use crate::wiring::{environment, print_warning};

#[derive(Debug, Args)]
#[command(
    long_about = "The heartbeat: every `[heartbeat] every` (in config.toml), `hearth serve` runs \
each probe command in the sandbox and wakes the model only when a probe's output changed since \
the last tick (exit 0) or a probe exits 2 (attention); exit 1 means no news, any other status \
is a failed probe (recorded, no wake). A woken tick sends the news and the workspace's \
checklist (HEARTBEAT.md) as a turn in a new session titled `heartbeat`.\n\n\
Example config:\n  [heartbeat]\n  every = \"30m\"\n  checklist = \"HEARTBEAT.md\"\n  \
probes = [{ name = \"inbox\", command = \"ls mail/new | wc -l\" }]"
)]
pub struct HeartbeatArgs {
    #[command(subcommand)]
    pub command: HeartbeatCommand,
}

#[derive(Debug, Subcommand)]
pub enum HeartbeatCommand {
    /// Run one tick now, in this process: the probes, and the model if there is news.
    RunOnce {
        /// Print the recorded tick as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        agent: AgentArgs,
    },
    /// Past ticks, the latest first: when, outcome, probes with news, session, tokens.
    History {
        /// Print JSON: one object per tick.
        #[arg(long)]
        json: bool,
        /// How many ticks to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

pub async fn heartbeat(args: HeartbeatArgs) -> Result<ExitCode> {
    match args.command {
        HeartbeatCommand::RunOnce { json, agent } => run_once(json, &agent).await,
        HeartbeatCommand::History { json, limit } => {
            let home = Home::locate()?;
            let store = Store::open(&home.state_db())?;
            history(&store.heartbeat_ticks(limit)?, json)
        }
    }
}

async fn run_once(json: bool, agent: &AgentArgs) -> Result<ExitCode> {
    let mut resolved = hearth_runtime::resolve(&agent.overrides(), environment())?;
    for warning in &resolved.warnings {
        print_warning(warning);
    }
    let model = resolved.model(agent.model.as_deref())?;
    for warning in resolved.start_mcp_servers().await {
        print_warning(&warning);
    }
    let store = resolved.open_store()?;
    // No one can answer an approval question here: a question is a deny at once.
    let approvals = Arc::new(ApprovalHub::new(Duration::ZERO));
    let resolved = Arc::new(resolved);
    let hub = Arc::new(SessionHub::new(
        resolved.clone(),
        store.clone(),
        approvals,
        Some(model.to_string()),
    ));
    let heartbeat = Heartbeat::new(&resolved, hub.clone(), store)?;
    let tick = heartbeat.tick(&CancellationToken::new()).await;
    hub.shut_down(Duration::from_secs(5)).await;
    let tick = tick?;
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&tick)?)
        );
    } else {
        eprintln!("{}", summary(&tick));
    }
    Ok(if tick.outcome == TickOutcome::Failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line about a tick.
fn summary(tick: &HeartbeatTick) -> String {
    let mut line = match tick.outcome {
        TickOutcome::Quiet => "quiet: no news, no model call".to_string(),
        TickOutcome::Woke => "woke the model".to_string(),
        TickOutcome::Failed => "woke the model; the turn failed".to_string(),
    };
    if !tick.changed.is_empty() {
        line.push_str(&format!("; changed: {}", tick.changed.join(", ")));
    }
    if !tick.attention.is_empty() {
        line.push_str(&format!("; attention: {}", tick.attention.join(", ")));
    }
    if let Some(session) = &tick.session_id {
        line.push_str(&format!(
            "; session {session} ({} input, {} output tokens)",
            tick.input_tokens, tick.output_tokens
        ));
    }
    if !tick.detail.is_empty() {
        line.push_str(&format!("; {}", tick.detail));
    }
    escape_for_terminal(&line, Layout::OneLine)
}

fn history(ticks: &[HeartbeatTick], json: bool) -> Result<ExitCode> {
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(ticks)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if ticks.is_empty() {
        eprintln!("no heartbeat ticks yet; set [heartbeat] every in config.toml and run `hearth serve`, or try `hearth heartbeat run-once`");
        return Ok(ExitCode::SUCCESS);
    }
    for tick in ticks {
        println!("{}  {}", tick.started_at, summary(tick));
    }
    Ok(ExitCode::SUCCESS)
}
