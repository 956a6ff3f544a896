//! Detects a model stuck repeating the same failing tool call, so the turn stops
//! instead of burning steps and tokens.

use hearth_protocol::{ToolCall, ToolResult};

/// How many times in a row the same call may fail before the turn is stopped.
pub const REPEAT_LIMIT: u32 = 3;

/// Remembers the last failing call (name + arguments, whitespace-normalised when the
/// arguments are JSON) and how often it failed in a row.
#[derive(Debug, Default)]
pub struct LoopGuard {
    last_failure: Option<String>,
    repeats: u32,
}

impl LoopGuard {
    /// Records one answered call; returns true when the same failure has now repeated
    /// [`REPEAT_LIMIT`] times in a row.
    pub fn record(&mut self, call: &ToolCall, result: &ToolResult) -> bool {
        if !result.is_error {
            self.last_failure = None;
            self.repeats = 0;
            return false;
        }
        let signature = signature(call);
        if self.last_failure.as_deref() == Some(signature.as_str()) {
            self.repeats += 1;
        } else {
            self.last_failure = Some(signature);
            self.repeats = 1;
        }
        self.repeats >= REPEAT_LIMIT
    }
}

fn signature(call: &ToolCall) -> String {
    let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
        .map(|value| value.to_string())
        .unwrap_or_else(|_| call.arguments.trim().to_string());
    format!("{}\u{0}{}", call.name, arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &str) -> ToolCall {
        ToolCall {
            id: "c".into(),
            name: "read_file".into(),
            arguments: args.into(),
        }
    }

    #[test]
    fn stops_on_the_third_identical_failure() {
        let mut guard = LoopGuard::default();
        let c = call(r#"{"path": "x"}"#);
        let failed = ToolResult::error(&c, "no such file");
        assert!(!guard.record(&c, &failed));
        assert!(!guard.record(&call(r#"{"path":"x"}"#), &failed));
        assert!(guard.record(&c, &failed));
    }

    #[test]
    fn a_success_or_a_different_call_resets_the_count() {
        let mut guard = LoopGuard::default();
        let a = call(r#"{"path":"a"}"#);
        let b = call(r#"{"path":"b"}"#);
        let fail = ToolResult::error(&a, "e");
        assert!(!guard.record(&a, &fail));
        assert!(!guard.record(&a, &fail));
        assert!(!guard.record(&b, &fail));
        assert!(!guard.record(&a, &ToolResult::ok(&a, "fine")));
        assert!(!guard.record(&a, &fail));
    }
}
