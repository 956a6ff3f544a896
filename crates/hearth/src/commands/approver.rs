//! Asks the person at the terminal whether a command may run (yes / no / always for this
//! session). Without a terminal every question is answered "no" and the model is told why.

use std::io::{BufRead, IsTerminal, Write};

use async_trait::async_trait;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use tokio::sync::Mutex;

use crate::terminal_text::{escape_for_terminal, Layout};

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
        let question = approval_question(request);
        tokio::task::spawn_blocking(move || ask_on_terminal(&question))
            .await
            .unwrap_or(ApprovalDecision::Deny {
                reason: "the approval prompt failed".into(),
            })
    }
}

/// The question shown to the person: the whole command and the directory, escaped on
/// one line (control characters, escape sequences, line breaks and invisible characters
/// shown as `\x1b`, `\r`, `\n`, `\u{202e}`), never cut, so what is approved is what runs.
pub fn approval_question(request: &ApprovalRequest) -> String {
    let command = escape_for_terminal(&request.command, Layout::OneLine);
    let cwd = escape_for_terminal(&request.cwd.to_string_lossy(), Layout::OneLine);
    let reason = escape_for_terminal(&request.reason, Layout::OneLine);
    let mut notes = String::new();
    if command != request.command {
        notes.push_str(
            "  note: the command holds line breaks, control or invisible characters, shown escaped above\n",
        );
    }
    let lines = request.command.lines().count();
    if lines > 1 {
        notes.push_str(&format!(
            "  note: {lines} lines of shell, shown on one line (\\n between them)\n"
        ));
    }
    format!(
        "\nhearth wants to run {reason}:\n  {command}\n  in {cwd}\n{notes}Allow? [y]es / [n]o / [a]lways this session: "
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn question_for(command: &str, cwd: &str) -> String {
        approval_question(&ApprovalRequest {
            command: command.into(),
            cwd: cwd.into(),
            reason: "a command WITHOUT a sandbox".into(),
        })
    }

    #[test]
    fn a_spoofed_command_is_shown_whole_with_its_controls_visible() {
        let question = question_for("echo pwned > file #\r\x1b[2K  ls -la", "/work/ws");
        assert!(
            question.contains("echo pwned > file #\\r\\x1b[2K  ls -la"),
            "{question}"
        );
        assert!(question.contains("shown escaped"), "{question}");
        assert!(
            !question.contains('\x1b') && !question.contains('\r'),
            "{question:?}"
        );
    }

    #[test]
    fn every_line_of_a_long_command_is_shown() {
        let hidden = format!("ls{}\nrm -rf ~/important", " ".repeat(500));
        let question = question_for(&hidden, "/work/ws");
        assert!(question.contains("\\nrm -rf ~/important"), "{question}");
        assert!(question.contains("2 lines of shell"), "{question}");
        let command_line = question.lines().nth(2).unwrap_or_default();
        assert!(command_line.contains("rm -rf"), "{command_line}");
    }

    #[test]
    fn bidi_and_escapes_in_the_directory_are_visible_too() {
        let question = question_for("ls", "/work/\u{202e}sw\x1b]0;x\x07");
        assert!(
            question.contains("/work/\\u{202e}sw\\x1b]0;x\\x07"),
            "{question}"
        );
        assert!(
            !question.contains("shown escaped"),
            "the command itself was plain"
        );
        for c in question.chars() {
            assert!(!c.is_control() || c == '\n', "{c:?} in {question:?}");
        }
    }
}
