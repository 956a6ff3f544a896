//! `hearth sessions list|show`: what is stored, for people and (with --json) programs.

use std::process::ExitCode;

use anyhow::Result;
use hearth_protocol::Message;
use hearth_store::Store;

use crate::cli::{SessionsArgs, SessionsCommand};
use crate::home::Home;
use crate::render::one_line;

pub fn sessions(args: SessionsArgs) -> Result<ExitCode> {
    let home = Home::locate()?;
    let store = Store::open(&home.state_db())?;
    match args.command {
        SessionsCommand::List { json } => {
            let sessions = store.list_sessions()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sessions)?);
            } else if sessions.is_empty() {
                eprintln!("no sessions yet; start one with `hearth run \"...\"` or `hearth chat`");
            } else {
                for s in sessions {
                    println!(
                        "{}  {}  {:>4} msgs  {}",
                        s.id, s.updated_at, s.message_count, s.title
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
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!(
                    "session {} · {} · {}",
                    session.id, session.model, session.workspace
                );
                for message in &messages {
                    print_message(message);
                }
                for approval in &approvals {
                    println!(
                        "\napproval {}: {} — {} ({})",
                        approval.created_at, approval.command, approval.decision, approval.reason
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_message(message: &Message) {
    match message {
        Message::User { text } => println!("\nuser: {text}"),
        Message::Assistant { text, tool_calls } => {
            if !text.is_empty() {
                println!("\nassistant: {text}");
            }
            for call in tool_calls {
                println!("  → {} {}", call.name, one_line(&call.arguments, 200));
            }
        }
        Message::Tool(result) => {
            let mark = if result.is_error { "✗" } else { "←" };
            println!("  {mark} {}", one_line(&result.content, 200));
        }
    }
}
