//! `hearth run`: one task, one turn; the answer on stdout, progress on stderr, and an
//! exit status a script can trust.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use hearth_protocol::{AgentEvent, StopReason, TurnEnd};
use hearth_store::SessionInfo;
use tokio_util::sync::CancellationToken;

use crate::cli::{AgentArgs, RunArgs};
use crate::commands::approver::TerminalApprover;
use crate::home::Home;
use crate::render::EventPrinter;
use crate::terminal_text::{escape_for_terminal, Layout};
use crate::wiring::resolve;

/// Exit status after Ctrl-C, as shells expect (128 + SIGINT).
pub const EXIT_CANCELLED: u8 = 130;

pub async fn run(args: RunArgs) -> Result<ExitCode> {
    let prompt = if args.prompt == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the prompt from stdin")?;
        text
    } else {
        args.prompt.clone()
    };
    // Refused before anything is stored: an empty text block breaks the session for
    // Anthropic (and says nothing to any model).
    if prompt.trim().is_empty() {
        anyhow::bail!(
            "the prompt is empty; give the task as an argument (hearth run \"...\") or on stdin (hearth run -)"
        );
    }
    let (agent_args, resumed) = with_resumed_session(&args.agent)?;
    let mut resolved = resolve(&agent_args)?;
    let model = resolved.model(agent_args.model.as_deref())?;
    resolved.report_skill_problems();
    resolved.start_mcp().await;
    let prompt = resolved.expand_skill_mentions(&prompt);
    let store = resolved.open_store()?;
    let session = match &resumed {
        Some(session) => session.clone(),
        None => store.create_session(&model.to_string(), &resolved.workspace)?,
    };

    let cancel = CancellationToken::new();
    cancel_on_ctrl_c(cancel.clone());
    // Before the agent: its provider sends an Ollama model's own sampling settings.
    let server = resolved.ollama_server(&model).await;
    let agent = resolved.agent(
        model.clone(),
        store,
        &session.id,
        Arc::new(TerminalApprover::new()),
    )?;
    crate::providers::warn_if_window_too_small(
        server.as_ref(),
        &model,
        &agent,
        &session.id,
        &prompt,
    )
    .await;
    let mut printer = EventPrinter::new(args.json);
    // A reader that went (`| head -1`) stops the turn; the exit is quiet and 0.
    let mut emit = |event: AgentEvent| {
        printer.print(&event);
        if printer.reader_gone() {
            cancel.cancel();
        }
    };
    let outcome = agent
        .run_turn(&session.id, &prompt, &mut emit, &cancel)
        .await;
    if printer.reader_gone() {
        return Ok(ExitCode::SUCCESS);
    }
    match outcome {
        Ok(outcome) => Ok(exit_for(outcome.end, &session.id, outcome.steps)),
        Err(err) => {
            let message = err.to_string();
            printer.print(&err.to_event());
            if args.json {
                eprintln!("hearth: {}", escape_for_terminal(&message, Layout::Lines));
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// With `--resume`, the stored session, and the flags completed from it (its model and
/// workspace unless given again).
pub fn with_resumed_session(args: &AgentArgs) -> Result<(AgentArgs, Option<SessionInfo>)> {
    let home = Home::locate()?;
    let (overrides, session) = args.overrides().resumed(&home)?;
    let mut args = args.clone();
    args.model = overrides.model;
    args.workspace = overrides.workspace;
    Ok((args, session))
}

pub fn cancel_on_ctrl_c(cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nhearth: cancelling (pending tool calls are answered 'cancelled')");
            cancel.cancel();
        }
    })
}

fn exit_for(end: TurnEnd, session_id: &str, steps: u32) -> ExitCode {
    if end.succeeded() {
        return ExitCode::SUCCESS;
    }
    match end {
        TurnEnd::Cancelled => {
            eprintln!(
                "hearth: cancelled; the session is saved, continue with --resume {session_id}"
            );
            return ExitCode::from(EXIT_CANCELLED);
        }
        TurnEnd::MaxSteps => {
            eprintln!("hearth: stopped after {steps} steps (--max-steps); continue with --resume {session_id}");
        }
        TurnEnd::LoopDetected => {
            eprintln!(
                "hearth: stopped because the same tool call kept failing; session {session_id}"
            );
        }
        TurnEnd::ProviderStopped { stop_reason } => {
            eprintln!(
                "hearth: {}; session {session_id}",
                provider_stop_line(stop_reason)
            );
        }
        TurnEnd::Completed | TurnEnd::Truncated => {}
    }
    ExitCode::FAILURE
}

/// Why the provider stopped an answer, as one line, with what to do about it. The
/// stopped answer stays in the transcript but is never sent to the model again.
pub fn provider_stop_line(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Refusal => {
            "the model refused to answer; its reply is not sent back in later turns — rephrase the task"
        }
        StopReason::ContentFilter => {
            "the provider's content filter stopped the answer; it is not sent back in later turns — rephrase the task"
        }
        StopReason::ContextWindowExceeded => {
            "the conversation is longer than the model's context window; start a new session or use a model with a larger window"
        }
        _ => "the provider stopped the answer",
    }
}
