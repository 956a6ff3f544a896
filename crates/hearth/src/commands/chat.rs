//! `hearth chat`: an interactive, streaming conversation with line history and a few
//! slash commands. Ctrl-C cancels the running turn; Ctrl-D or /exit leaves.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use hearth_agent::TurnOutcome;
use hearth_protocol::{AgentEvent, TurnEnd};
use rustyline::error::ReadlineError;
use tokio_util::sync::CancellationToken;

use crate::cli::AgentArgs;
use crate::commands::approver::TerminalApprover;
use crate::commands::run::{cancel_on_ctrl_c, provider_stop_line, with_resumed_session};
use crate::render::EventPrinter;
use crate::terminal_text::{escape_for_terminal, Layout};
use crate::wiring::resolve;

const HELP: &str = "\
/help   this text
/new    start a new session
/compact  summarise the older history now (the transcript is kept)
/exit   leave (or Ctrl-D)
Ctrl-C  cancel the running turn";

pub async fn chat(args: AgentArgs) -> Result<ExitCode> {
    let (args, resumed) = with_resumed_session(&args)?;
    let mut resolved = resolve(&args)?;
    let model = resolved.model(args.model.as_deref())?;
    resolved.report_skill_problems();
    resolved.start_mcp().await;
    let store = resolved.open_store()?;
    let approver = Arc::new(TerminalApprover::new());
    let mut session = match resumed {
        Some(session) => session,
        None => store.create_session(&model.to_string(), &resolved.workspace)?,
    };
    eprintln!(
        "hearth chat · {model} · session {} · workspace {} · /help for commands",
        short(&session.id),
        resolved.workspace.display()
    );

    // One agent per session (rebuilt on /new, as approvals are recorded per session),
    // and a fresh cancellation token per turn.
    // Before the agent: its provider sends an Ollama model's own sampling settings.
    let server = resolved.ollama_server(&model).await;
    let new_agent = |session_id: &str| {
        resolved.agent(model.clone(), store.clone(), session_id, approver.clone())
    };
    let mut agent = new_agent(&session.id)?;
    let mut window_checked = false;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history_path = resolved.home.chat_history();
    let _ = editor.load_history(&history_path);
    loop {
        let line = match tokio::task::block_in_place(|| editor.readline("› ")) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(err) => return Err(err.into()),
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line);
        match line {
            "/exit" | "/quit" => break,
            "/help" => {
                eprintln!("{HELP}");
                continue;
            }
            "/new" => {
                session = store.create_session(&model.to_string(), &resolved.workspace)?;
                agent = new_agent(&session.id)?;
                eprintln!("new session {}", short(&session.id));
                continue;
            }
            "/compact" => {
                compact(&agent, &session.id).await;
                continue;
            }
            other if other.starts_with('/') => {
                eprintln!("unknown command {other}; /help lists them");
                continue;
            }
            _ => {}
        }
        let cancel = CancellationToken::new();
        let watcher = cancel_on_ctrl_c(cancel.clone());
        if !window_checked {
            window_checked = true;
            crate::providers::warn_if_window_too_small(
                server.as_ref(),
                &model,
                &agent,
                &session.id,
                line,
            )
            .await;
        }
        let mut printer = EventPrinter::new(false);
        let mut emit = |event: AgentEvent| printer.print(&event);
        let line = resolved.expand_skill_mentions(line);
        match agent.run_turn(&session.id, &line, &mut emit, &cancel).await {
            Ok(TurnOutcome {
                end: TurnEnd::ProviderStopped { stop_reason },
                ..
            }) => {
                eprintln!("hearth: {}", provider_stop_line(stop_reason));
            }
            Ok(_) => {}
            Err(err) => eprintln!(
                "hearth: {}",
                escape_for_terminal(&err.to_string(), Layout::Lines)
            ),
        }
        watcher.abort();
    }
    let _ = editor.save_history(&history_path);
    Ok(ExitCode::SUCCESS)
}

/// `/compact`: summarises the session's older history now and says what it did.
async fn compact(agent: &hearth_agent::Agent, session_id: &str) {
    let cancel = CancellationToken::new();
    let watcher = cancel_on_ctrl_c(cancel.clone());
    match agent.compact(session_id, &cancel).await {
        Ok(Some(checkpoint)) => eprintln!(
            "compacted messages 1–{} into a summary (next request about {} tokens, was {}); \
             the full transcript is kept",
            checkpoint.up_to_seq, checkpoint.tokens_after, checkpoint.tokens_before
        ),
        Ok(None) => eprintln!("nothing to compact yet: the history is only the latest step"),
        Err(err) => eprintln!(
            "hearth: {}",
            escape_for_terminal(&err.to_string(), Layout::Lines)
        ),
    }
    watcher.abort();
}

fn short(id: &str) -> &str {
    id.get(..13).unwrap_or(id)
}
