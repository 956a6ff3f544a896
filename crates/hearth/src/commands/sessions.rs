//! `hearth sessions list|show`: what is stored, for people and (with --json) programs.

use std::process::ExitCode;

use anyhow::Result;
use hearth_protocol::Message;
use hearth_store::{Checkpoint, SessionInfo, Store};

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
            let messages = store.messages_with_seq(&session.id)?;
            let checkpoints = store.checkpoints(&session.id)?;
            let children = store.child_sessions(&session.id)?;
            let approvals = store.approvals(&session.id)?;
            if json {
                let messages: Vec<&Message> = messages.iter().map(|(_, m)| m).collect();
                let value = serde_json::json!({
                    "session": session,
                    "messages": messages,
                    "checkpoints": checkpoints,
                    "children": children,
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
                for (seq, message) in &messages {
                    print_message(message);
                    for checkpoint in checkpoints.iter().filter(|c| c.up_to_seq == *seq) {
                        print_checkpoint(checkpoint);
                    }
                }
                for child in &children {
                    print_child(&store, child, 1)?;
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

/// A sub-agent's session nested under its parent's (and its own children under it).
fn print_child(store: &Store, child: &SessionInfo, depth: usize) -> Result<()> {
    let indent = "  ".repeat(depth);
    println!(
        "\n{indent}↳ sub-agent session {} · {} · {} msgs",
        child.id,
        escape_for_terminal(&child.model, Layout::OneLine),
        child.message_count
    );
    for message in store.messages(&child.id)? {
        let line = match &message {
            Message::User { text, .. } => format!("task: {}", preview(text, 200)),
            Message::Assistant {
                text, tool_calls, ..
            } if tool_calls.is_empty() => format!("answer: {}", preview(text, 200)),
            Message::Assistant { tool_calls, .. } => tool_calls
                .iter()
                .map(|call| format!("→ {}", tool_call_line(&call.name, &call.arguments)))
                .collect::<Vec<_>>()
                .join("; "),
            Message::Tool(result) => format!("← {}", preview(&result.content, 120)),
        };
        println!("{indent}  {line}");
    }
    for grandchild in store.child_sessions(&child.id)? {
        print_child(store, &grandchild, depth + 1)?;
    }
    Ok(())
}

/// The mark where a compaction checkpoint ends: later requests carried its summary
/// instead of the messages above it.
fn print_checkpoint(checkpoint: &Checkpoint) {
    println!(
        "\n── checkpoint {} · messages 1–{} compacted by {} · ~{} → ~{} tokens ──",
        checkpoint.created_at,
        checkpoint.up_to_seq,
        escape_for_terminal(&checkpoint.model, Layout::OneLine),
        checkpoint.tokens_before,
        checkpoint.tokens_after
    );
    println!("  summary: {}", preview(&checkpoint.summary, 400));
}

fn print_message(message: &Message) {
    match message {
        Message::User { text, .. } => {
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
