//! Prints agent events: text to stdout and progress to stderr for people, or one JSON
//! object per line on stdout for programs (`--json`).

use std::io::Write;

use hearth_protocol::{AgentEvent, StopReason};

/// How events are shown.
pub struct EventPrinter {
    json: bool,
    /// Whether the last thing written to stdout ended a line.
    at_line_start: bool,
    /// Whether the current model call has already streamed text (a retry restarts it).
    streamed_this_call: bool,
}

impl EventPrinter {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            at_line_start: true,
            streamed_this_call: false,
        }
    }

    pub fn print(&mut self, event: &AgentEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            return;
        }
        match event {
            AgentEvent::TextDelta { text } => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                if !text.is_empty() {
                    self.at_line_start = text.ends_with('\n');
                    self.streamed_this_call = true;
                }
            }
            AgentEvent::ToolCall { call } => {
                self.end_line();
                self.streamed_this_call = false;
                eprintln!("· {} {}", call.name, one_line(&call.arguments, 120));
            }
            AgentEvent::ToolResult { result } => {
                let mark = if result.is_error { "✗" } else { "✓" };
                eprintln!("  {mark} {}", one_line(&result.content, 120));
            }
            AgentEvent::Retry {
                attempt,
                delay_ms,
                reason,
            } => {
                self.end_line();
                eprintln!("hearth: {reason}; retrying in {delay_ms} ms (attempt {attempt})");
                if std::mem::take(&mut self.streamed_this_call) {
                    // The model answers again from the start: say so, so the partial text
                    // above is not read as part of the answer.
                    eprintln!(
                        "hearth: the partial answer above is discarded; the model starts again"
                    );
                }
            }
            AgentEvent::Final { stop_reason, .. } => {
                self.end_line();
                if *stop_reason == StopReason::MaxTokens {
                    eprintln!("hearth: the answer was cut at the model's output token limit");
                }
            }
            AgentEvent::Error { message } => {
                self.end_line();
                eprintln!("hearth: {message}");
            }
            AgentEvent::SessionStarted { .. } | AgentEvent::Usage { .. } => {}
        }
    }

    /// Ends a partly written stdout line so stderr output starts on its own line.
    pub fn end_line(&mut self) {
        if !self.at_line_start {
            println!();
            self.at_line_start = true;
        }
    }
}

/// The first line of `text`, cut to `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let first = text.trim().lines().next().unwrap_or("");
    let mut line: String = first.chars().take(max).collect();
    if first.chars().count() > max || text.trim().lines().count() > 1 {
        line.push('…');
    }
    line
}
