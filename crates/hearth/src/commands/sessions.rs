//! `hearth sessions list|show`: what is stored, for people and (with --json) programs.

use std::process::ExitCode;

use anyhow::Result;
use hearth_protocol::Message;
use hearth_store::Store;

use crate::cli::{SessionsArgs, SessionsCommand};
use crate::home::Home;
use crate::render::tool_call_line;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, preview, Layout};

pub fn sessions(args: SessionsArgs) -> Result<ExitCode> {
    let home = Home::locate()?;
    let store = Store::open(&home.state_db())?;
    match args.command {
        SessionsCommand::List { json } => {
            let sessions = store.list_sessions()?;
            if json {
                println!(
                    "{}",
                    json_for_terminal(&serde_json::to_string_pretty(&sessions)?)
                );
            } else if sessions.is_empty() {
                eprintln!("no sessions yet; start one with `hearth run \"...\"` or `hearth chat`");
            } else {
                for s in sessions {
                    println!(
                        "{}  {}  {:>4} msgs  {}",
                        s.id,
                        s.updated_at,
                        s.message_count,
                        escape_for_terminal(&s.title, Layout::OneLine)
                    );
                }
            }
        }
        SessionsCommand::Show { id, json } => {
            let session = store.session(&id)?;
            let messages = store.messages(&session.id)?;
            let approvals = store.approvals(&session.id)?;
            if json {
                let value = serde_json::json!({
                    "session": session,
                    "messages": messages,
                    "approvals": approvals,
                });
                println!(
                    "{}",
                    json_for_terminal(&serde_json::to_string_pretty(&value)?)
                );
            } else {
                println!(
                    "session {} · {} · {}",
                    session.id,
                    escape_for_terminal(&session.model, Layout::OneLine),
                    escape_for_terminal(&session.workspace, Layout::OneLine)
                );
                for message in &messages {
                    print_message(message);
                }
                for approval in &approvals {
                    println!(
                        "\napproval {}: {} — {} ({})",
                        approval.created_at,
                        escape_for_terminal(&approval.command, Layout::OneLine),
                        approval.decision,
                        escape_for_terminal(&approval.reason, Layout::Lines)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_message(message: &Message) {
    match message {
        Message::User { text } => {
            println!("\nuser: {}", escape_for_terminal(text, Layout::Lines))
        }
        Message::Assistant {
            text, tool_calls, ..
        } => {
            if !text.is_empty() {
                println!("\nassistant: {}", escape_for_terminal(text, Layout::Lines));
            }
            for call in tool_calls {
                println!("  → {}", tool_call_line(&call.name, &call.arguments));
            }
        }
        Message::Tool(result) => {
            let mark = if result.is_error { "✗" } else { "←" };
            println!("  {mark} {}", preview(&result.content, 200));
        }
    }
}
