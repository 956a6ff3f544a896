//! Asks the person at the terminal whether a command may run (yes / no / always for this
//! session). Without a terminal every question is answered "no" and the model is told why.

use std::io::{BufRead, IsTerminal, Write};

use async_trait::async_trait;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use tokio::sync::Mutex;

/// Prompts on `/dev/tty`, one question at a time.
pub struct TerminalApprover {
    asking: Mutex<()>,
}

impl TerminalApprover {
    pub fn new() -> Self {
        Self {
            asking: Mutex::new(()),
        }
    }
}

#[async_trait]
impl Approver for TerminalApprover {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let _one_at_a_time = self.asking.lock().await;
        let question = format!(
            "\nhearth wants to run {}:\n  {}\n  in {}\nAllow? [y]es / [n]o / [a]lways this session: ",
            request.reason,
            request.command,
            request.cwd.display()
        );
        tokio::task::spawn_blocking(move || ask_on_terminal(&question))
            .await
            .unwrap_or(ApprovalDecision::Deny {
                reason: "the approval prompt failed".into(),
            })
    }
}

fn ask_on_terminal(question: &str) -> ApprovalDecision {
    let no_terminal = ApprovalDecision::Deny {
        reason: "no terminal to ask for approval (non-interactive run); the command was not run"
            .into(),
    };
    if !std::io::stderr().is_terminal() {
        return no_terminal;
    }
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return no_terminal;
    };
    let mut writer = &tty;
    if writer
        .write_all(question.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return no_terminal;
    }
    let mut answer = String::new();
    if std::io::BufReader::new(&tty)
        .read_line(&mut answer)
        .is_err()
    {
        return no_terminal;
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => ApprovalDecision::Approve,
        "a" | "always" => ApprovalDecision::ApproveForSession,
        _ => ApprovalDecision::Deny {
            reason: "the user declined".into(),
        },
    }
}
