//! Prints agent events: text to stdout and progress to stderr for people, or one JSON
//! object per line on stdout for programs (`--json`). Everything printed that came from
//! the model, a tool or a server goes through `terminal_text` first, so no escape
//! sequence or control character reaches the terminal. When stdout's reader goes
//! (`hearth run … | head -1`), the printer notices the broken pipe and prints nothing
//! more, anywhere; the command then stops the turn and exits 0.

use std::io::Write;

use hearth_protocol::{AgentEvent, TurnEnd};

use crate::terminal_text::{escape_for_terminal, json_for_terminal, preview, Layout};

/// How events are shown.
pub struct EventPrinter {
    json: bool,
    /// Whether the last thing written to stdout ended a line.
    at_line_start: bool,
    /// Whether the current model call has already streamed text (a retry restarts it).
    streamed_this_call: bool,
    /// Whether a write to stdout met a broken pipe: nobody reads any more.
    reader_gone: bool,
}

impl EventPrinter {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            at_line_start: true,
            streamed_this_call: false,
            reader_gone: false,
        }
    }

    /// Prints `event`, unless stdout's reader has gone (then nothing, also on stderr).
    pub fn print(&mut self, event: &AgentEvent) {
        if self.reader_gone {
            return;
        }
        let mut out = PipeWatch {
            inner: std::io::stdout().lock(),
            broken: false,
        };
        self.write_event(&mut out, event);
        let _ = out.flush();
        self.reader_gone = out.broken;
    }

    /// Whether stdout's reader has gone (a write met a broken pipe).
    pub fn reader_gone(&self) -> bool {
        self.reader_gone
    }

    /// Writes `event` to `out` (stdout for people or programs); progress goes to stderr.
    pub fn write_event(&mut self, out: &mut impl Write, event: &AgentEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                let _ = writeln!(out, "{}", json_for_terminal(&line));
            }
            return;
        }
        match event {
            AgentEvent::TextDelta { text } => {
                let _ = out.write_all(escape_for_terminal(text, Layout::Lines).as_bytes());
                if !text.is_empty() {
                    self.at_line_start = text.ends_with('\n');
                    self.streamed_this_call = true;
                }
            }
            AgentEvent::ToolCall { call } => {
                self.end_line(out);
                self.streamed_this_call = false;
                eprintln!("· {}", tool_call_line(&call.name, &call.arguments));
            }
            AgentEvent::ToolResult { result } => {
                let mark = if result.is_error { "✗" } else { "✓" };
                eprintln!("  {mark} {}", preview(&result.content, 120));
            }
            AgentEvent::Retry {
                attempt,
                delay_ms,
                reason,
            } => {
                self.end_line(out);
                let reason = escape_for_terminal(reason, Layout::Lines);
                eprintln!("hearth: {reason}; retrying in {delay_ms} ms (attempt {attempt})");
                if std::mem::take(&mut self.streamed_this_call) {
                    // The model answers again from the start: say so, so the partial text
                    // above is not read as part of the answer.
                    eprintln!(
                        "hearth: the partial answer above is discarded; the model starts again"
                    );
                }
            }
            AgentEvent::Final { end, .. } => {
                self.end_line(out);
                if *end == TurnEnd::Truncated {
                    eprintln!(
                        "hearth: the answer was cut at the model's output token limit; \
                         raise [limits] max_output_tokens in config.toml"
                    );
                }
            }
            AgentEvent::Error { message, .. } => {
                self.end_line(out);
                eprintln!("hearth: {}", escape_for_terminal(message, Layout::Lines));
            }
            AgentEvent::SessionStarted { .. } | AgentEvent::Usage { .. } => {}
        }
    }

    /// Ends a partly written stdout line so stderr output starts on its own line.
    fn end_line(&mut self, out: &mut impl Write) {
        if !self.at_line_start {
            let _ = writeln!(out);
            let _ = out.flush();
            self.at_line_start = true;
        }
    }
}

/// A writer that remembers whether a write met a broken pipe.
struct PipeWatch<W> {
    inner: W,
    broken: bool,
}

impl<W: Write> PipeWatch<W> {
    fn watch<T>(&mut self, result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(error) = &result {
            self.broken |= error.kind() == std::io::ErrorKind::BrokenPipe;
        }
        result
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let result = self.inner.write(buf);
        self.watch(result)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let result = self.inner.flush();
        self.watch(result)
    }
}

/// The progress line for a tool call: `exec` shows its whole command (and cwd) escaped
/// on one line; other tools their arguments, escaped and cut with a note saying so.
pub fn tool_call_line(name: &str, arguments: &str) -> String {
    let name = escape_for_terminal(name, Layout::OneLine);
    if name == "exec" {
        if let Ok(args) = serde_json::from_str::<serde_json::Value>(arguments) {
            if let Some(command) = args["command"].as_str() {
                let mut line = format!("exec {}", escape_for_terminal(command, Layout::OneLine));
                if let Some(cwd) = args["cwd"].as_str() {
                    line.push_str(&format!(
                        "  (in {})",
                        escape_for_terminal(cwd, Layout::OneLine)
                    ));
                }
                if args["escalate"] == serde_json::Value::Bool(true) {
                    line.push_str("  (asks to run outside the sandbox)");
                }
                return line;
            }
        }
    }
    format!("{name} {}", preview(arguments, 120))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "ok \x1b]52;c;ZXZpbA==\x07 title \x1b]0;pwned\x07 back\rover \u{9b}31m red \u{202e}txet";

    fn printed(json: bool, texts: &[&str]) -> Vec<u8> {
        let mut printer = EventPrinter::new(json);
        let mut out = Vec::new();
        for text in texts {
            printer.write_event(
                &mut out,
                &AgentEvent::TextDelta {
                    text: (*text).into(),
                },
            );
        }
        out
    }

    fn assert_inert(bytes: &[u8]) {
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(!bytes.contains(&0x1b), "ESC in {text:?}");
        assert!(!bytes.contains(&0x07), "BEL in {text:?}");
        assert!(!bytes.contains(&b'\r'), "CR in {text:?}");
        assert!(
            !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
            "C1 in {text:?}"
        );
        assert!(!text.contains('\u{202e}'), "bidi override in {text:?}");
    }

    #[test]
    fn streamed_text_cannot_reach_the_terminal_as_escape_sequences() {
        let bytes = printed(false, &[HOSTILE]);
        assert_inert(&bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\\x1b]52;c;ZXZpbA==\\x07"), "{text}");
        assert!(text.contains("back\\rover"), "{text}");
    }

    #[test]
    fn a_sequence_split_across_deltas_is_still_escaped() {
        assert_inert(&printed(
            false,
            &["before \x1b", "]52;c;ZXZpbA==", "\x07 after"],
        ));
    }

    #[test]
    fn plain_text_newlines_tabs_and_letters_are_printed_unchanged() {
        let text = "Voilà: é, 日本\n\tindented\n";
        assert_eq!(printed(false, &[text]), text.as_bytes());
    }

    #[test]
    fn json_lines_escape_c1_and_bidi_too() {
        let bytes = printed(true, &[HOSTILE]);
        assert_inert(&bytes);
        let line = String::from_utf8(bytes).unwrap();
        let event: AgentEvent = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(
            event,
            AgentEvent::TextDelta {
                text: HOSTILE.into()
            }
        );
    }

    #[test]
    fn exec_progress_shows_the_whole_command_escaped_on_one_line() {
        let args = serde_json::json!({
            "command": "echo pwned > file #\r\x1b[2K  ls -la\nrm -rf ~",
            "cwd": "sub"
        });
        let line = tool_call_line("exec", &args.to_string());
        assert_eq!(
            line,
            "exec echo pwned > file #\\r\\x1b[2K  ls -la\\nrm -rf ~  (in sub)"
        );
    }

    #[test]
    fn other_progress_lines_say_when_they_are_cut() {
        let content = format!("{}\nsecond line", "y".repeat(200));
        let args = serde_json::json!({ "path": "a.txt", "content": content });
        let line = tool_call_line("write_file", &args.to_string());
        assert!(line.contains("more characters)"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
