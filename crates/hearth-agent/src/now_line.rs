//! The user's current local time, appended to each user message as one short line
//! (`[now: 2026-12-05 09:12 Europe/Berlin, Saturday]`) so the model can reason about
//! dates ("remind me tomorrow at 9") while the system prompt and tool schemas stay
//! byte-identical across turns and days (the stable prefix providers cache). Stored
//! with the message, so later requests repeat the same bytes.

use std::sync::Arc;

/// Makes the `[now: …]` line; the runtime supplies the clock and the zone.
#[derive(Clone)]
pub struct NowLine(Arc<dyn Fn() -> String + Send + Sync>);

impl NowLine {
    pub fn new(line: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self(Arc::new(line))
    }

    /// The line for this moment.
    pub fn line(&self) -> String {
        (self.0)()
    }
}

impl std::fmt::Debug for NowLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NowLine")
    }
}

/// The user's words followed by the time line (when there is one).
pub fn with_now(user_text: &str, now: Option<&NowLine>) -> String {
    match now.map(NowLine::line) {
        Some(line) if !line.is_empty() => format!("{user_text}\n\n{line}"),
        _ => user_text.to_string(),
    }
}
