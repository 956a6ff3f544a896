//! The script a [`ScriptedServer`](crate::ScriptedServer) replays: one [`Step`] per
//! incoming request, loadable from JSON files and checked before the server starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::provider_stop::StopKind;

/// Everything the server will answer, in order. Each request consumes the next step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub steps: Vec<Step>,
}

/// One answer of the scripted model. In JSON the variant is named by `"type"`.
///
/// Timing fields (all default to 0):
/// - `delay_ms`: wait this long after the request arrives before sending anything
///   (a model that is slow to start answering).
/// - `chunk_delay_ms`: streaming only, wait this long before each event after the
///   first (a model that is mid-answer for a while).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// A final text answer (`finish_reason: "stop"` / `stop_reason: "end_turn"`).
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<ScriptUsage>,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        chunk_delay_ms: u64,
    },
    /// Tool calls (parallel if more than one), optionally preceded by text.
    ToolCalls {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        calls: Vec<ScriptedCall>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<ScriptUsage>,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        chunk_delay_ms: u64,
    },
    /// Tool calls cut off by the output token limit: the last call's `arguments` are
    /// sent as given (normally the start of a JSON object) and the answer ends with
    /// `finish_reason: "length"` / `stop_reason: "max_tokens"`.
    ToolCallsCutOff {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        calls: Vec<ScriptedCall>,
    },
    /// An HTTP error response with the provider's error JSON shape, with a
    /// `retry-after` header (seconds) when `retry_after` is set.
    HttpError {
        status: u16,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
    },
    /// Send the first part of a text answer, then drop the connection without the
    /// terminating events. Meant for streaming requests; a non-streaming request gets
    /// a 200 status line and headers, then the connection drops before any body.
    DropMidStream {
        text: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        delay_ms: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        chunk_delay_ms: u64,
    },
    /// Accept the request and never finish answering (until the server shuts down).
    /// With an empty `text` nothing at all is sent, not even headers; with a `text`
    /// and a streaming request, the start of the answer is streamed and then the
    /// connection stays open and silent (a stalled stream).
    Hang {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
    },
    /// A runaway answer: `bytes` bytes of text (the letter `a`), streamed as deltas of
    /// `piece_bytes` (default 1024) and ended normally, or, for a non-streaming request,
    /// one JSON body carrying all of it. Generated while it is sent, never held whole.
    TextFlood {
        bytes: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        piece_bytes: u64,
    },
    /// A 200 `text/event-stream` whose body is one line, `data: aaa…`, of `bytes` bytes
    /// and no newline; then the connection stays open and silent.
    UnterminatedLine { bytes: u64 },
    /// A 200 `text/event-stream` that sends only the SSE comment `: ping` and a blank
    /// line every `interval_ms`, forever (until the server shuts down): no data at all.
    KeepAliveOnly { interval_ms: u64 },
    /// A 200 stream that starts an answer (`text`, may be empty) and then reports the
    /// error `message` the way the server's [`Personality`](crate::Personality) does
    /// (an error chunk, llama.cpp's `error:` field, Ollama's empty chunk and close,
    /// OpenRouter's `finish_reason: "error"`). A non-streaming request gets a 200 whose
    /// JSON body is `{"error": …}`.
    StreamError {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        message: String,
    },
    /// A complete answer (`text`, may be empty) that the provider stopped: a refusal,
    /// a content filter, a full context window (see [`StopKind`]).
    ProviderStop {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        stop: StopKind,
    },
}

/// One tool call the scripted model makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedCall {
    pub id: String,
    pub name: String,
    /// The raw argument text, sent as-is: it may be invalid JSON on purpose.
    pub arguments: String,
}

/// Token counts to report, put on the wire as given: `input_tokens` becomes OpenAI's
/// `prompt_tokens` and Anthropic's `input_tokens`; `cached_tokens` becomes OpenAI's
/// `prompt_tokens_details.cached_tokens` and Anthropic's `cache_read_input_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_tokens: u64,
}

/// Why a script could not be loaded or used. Each message already includes its
/// cause (so the causes are not chained as `source` a second time).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("script file {path}: cannot read it: {cause}; check the path and its permissions")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("script {origin}: not a valid script: {cause}; expected {{\"steps\": [{{\"type\": \"text\", \"text\": \"...\"}}, ...]}} (see the hearth-testkit crate docs)")]
    Parse {
        origin: String,
        cause: serde_json::Error,
    },
    #[error("script step {step} ({kind}): {problem}")]
    InvalidStep {
        step: usize,
        kind: &'static str,
        problem: String,
    },
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Script {
        Script { steps }
    }

    /// Parses a script from JSON text and checks it; `origin` names it in errors.
    pub fn from_json_str(json: &str, origin: &str) -> Result<Script, ScriptError> {
        let script: Script = serde_json::from_str(json).map_err(|cause| ScriptError::Parse {
            origin: origin.to_string(),
            cause,
        })?;
        script.validate()?;
        Ok(script)
    }

    /// Reads, parses and checks a script file.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let json = std::fs::read_to_string(path).map_err(|cause| ScriptError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        Script::from_json_str(&json, &format!("file {}", path.display()))
    }

    /// Checks what serde cannot: HTTP error statuses are 400–599 and tool-call steps
    /// have at least one call. Steps are numbered from 1 in errors.
    pub fn validate(&self) -> Result<(), ScriptError> {
        for (index, step) in self.steps.iter().enumerate() {
            let invalid = |problem: String| ScriptError::InvalidStep {
                step: index + 1,
                kind: step.kind(),
                problem,
            };
            match step {
                Step::HttpError { status, .. } if !(400..=599).contains(status) => {
                    return Err(invalid(format!(
                        "status {status} is not an HTTP error; use a status from 400 to 599"
                    )));
                }
                Step::ToolCalls { calls, .. } | Step::ToolCallsCutOff { calls, .. }
                    if calls.is_empty() =>
                {
                    return Err(invalid(
                        "has no calls; add at least one call or use a text step".to_string(),
                    ));
                }
                Step::KeepAliveOnly { interval_ms: 0 } => {
                    return Err(invalid(
                        "interval_ms is 0; use at least 1 so the server does not spin".to_string(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Step {
    /// A final text answer with no usage override and no delays.
    pub fn text(text: impl Into<String>) -> Step {
        Step::Text {
            text: text.into(),
            usage: None,
            delay_ms: 0,
            chunk_delay_ms: 0,
        }
    }

    /// A single tool call with no preceding text.
    pub fn tool_call(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Step {
        Step::tool_calls("", vec![ScriptedCall::new(id, name, arguments)])
    }

    /// Tool calls (parallel if more than one), preceded by `text` unless it is empty.
    pub fn tool_calls(text: impl Into<String>, calls: Vec<ScriptedCall>) -> Step {
        Step::ToolCalls {
            text: text.into(),
            calls,
            usage: None,
            delay_ms: 0,
            chunk_delay_ms: 0,
        }
    }

    /// An HTTP error with the provider's error shape and no `retry-after`.
    pub fn http_error(status: u16, message: impl Into<String>) -> Step {
        Step::HttpError {
            status,
            message: message.into(),
            retry_after: None,
            delay_ms: 0,
        }
    }

    /// Streams `text` as the start of an answer, then drops the connection.
    pub fn drop_mid_stream(text: impl Into<String>) -> Step {
        Step::DropMidStream {
            text: text.into(),
            delay_ms: 0,
            chunk_delay_ms: 0,
        }
    }

    /// Accepts the request and never answers.
    pub fn hang() -> Step {
        Step::Hang {
            text: String::new(),
        }
    }

    /// `bytes` bytes of streamed text in deltas of 1024 bytes (see [`Step::TextFlood`]).
    pub fn text_flood(bytes: u64) -> Step {
        Step::TextFlood {
            bytes,
            piece_bytes: 0,
        }
    }

    /// One SSE line of `bytes` bytes that never ends (see [`Step::UnterminatedLine`]).
    pub fn unterminated_line(bytes: u64) -> Step {
        Step::UnterminatedLine { bytes }
    }

    /// One tool call cut off by the output limit (see [`Step::ToolCallsCutOff`]).
    pub fn tool_call_cut_off(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Step {
        Step::ToolCallsCutOff {
            text: String::new(),
            calls: vec![ScriptedCall::new(id, name, arguments)],
        }
    }

    /// An error reported inside a 200 stream (see [`Step::StreamError`]).
    pub fn stream_error(text: impl Into<String>, message: impl Into<String>) -> Step {
        Step::StreamError {
            text: text.into(),
            message: message.into(),
        }
    }

    /// An answer the provider stopped (see [`Step::ProviderStop`]).
    pub fn provider_stop(text: impl Into<String>, stop: StopKind) -> Step {
        Step::ProviderStop {
            text: text.into(),
            stop,
        }
    }

    /// SSE comments every `interval_ms` and nothing else (see [`Step::KeepAliveOnly`]).
    pub fn keep_alive_only(interval_ms: u64) -> Step {
        Step::KeepAliveOnly { interval_ms }
    }

    /// Sets the reported usage (text and tool-call steps; other steps are unchanged).
    pub fn with_usage(mut self, new_usage: ScriptUsage) -> Step {
        if let Step::Text { usage, .. } | Step::ToolCalls { usage, .. } = &mut self {
            *usage = Some(new_usage);
        }
        self
    }

    /// Sets the wait before anything is sent (every step but `Hang`, which never answers).
    pub fn with_delay_ms(mut self, ms: u64) -> Step {
        if let Step::Text { delay_ms, .. }
        | Step::ToolCalls { delay_ms, .. }
        | Step::HttpError { delay_ms, .. }
        | Step::DropMidStream { delay_ms, .. } = &mut self
        {
            *delay_ms = ms;
        }
        self
    }

    /// Sets the wait between streamed events (text, tool-call and drop steps).
    pub fn with_chunk_delay_ms(mut self, ms: u64) -> Step {
        if let Step::Text { chunk_delay_ms, .. }
        | Step::ToolCalls { chunk_delay_ms, .. }
        | Step::DropMidStream { chunk_delay_ms, .. } = &mut self
        {
            *chunk_delay_ms = ms;
        }
        self
    }

    /// Sets the `retry-after` header, in seconds (HTTP error steps only).
    pub fn with_retry_after(mut self, seconds: u64) -> Step {
        if let Step::HttpError { retry_after, .. } = &mut self {
            *retry_after = Some(seconds);
        }
        self
    }

    /// The step's `"type"` as written in JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Text { .. } => "text",
            Step::ToolCalls { .. } => "tool_calls",
            Step::HttpError { .. } => "http_error",
            Step::DropMidStream { .. } => "drop_mid_stream",
            Step::Hang { .. } => "hang",
            Step::TextFlood { .. } => "text_flood",
            Step::UnterminatedLine { .. } => "unterminated_line",
            Step::KeepAliveOnly { .. } => "keep_alive_only",
            Step::StreamError { .. } => "stream_error",
            Step::ToolCallsCutOff { .. } => "tool_calls_cut_off",
            Step::ProviderStop { .. } => "provider_stop",
        }
    }
}

impl ScriptedCall {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> ScriptedCall {
        ScriptedCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_step_kind_with_defaults() {
        let json = r#"{"steps": [
            {"type": "text", "text": "hi"},
            {"type": "tool_calls", "calls": [{"id": "c1", "name": "read", "arguments": "{\"path\":"}],
             "usage": {"input_tokens": 5, "output_tokens": 2}, "delay_ms": 10, "chunk_delay_ms": 3},
            {"type": "http_error", "status": 429, "message": "slow down", "retry_after": 2},
            {"type": "drop_mid_stream", "text": "Hel"},
            {"type": "hang"}
        ]}"#;
        let script = Script::from_json_str(json, "inline").unwrap();
        assert_eq!(script.steps[0], Step::text("hi"));
        assert_eq!(
            script.steps[1],
            Step::tool_call("c1", "read", "{\"path\":")
                .with_usage(ScriptUsage {
                    input_tokens: 5,
                    output_tokens: 2,
                    cached_tokens: 0
                })
                .with_delay_ms(10)
                .with_chunk_delay_ms(3)
        );
        assert_eq!(
            script.steps[2],
            Step::http_error(429, "slow down").with_retry_after(2)
        );
        assert_eq!(script.steps[3], Step::drop_mid_stream("Hel"));
        assert_eq!(script.steps[4], Step::hang());
    }

    #[test]
    fn parses_the_oversized_and_keep_alive_steps() {
        let json = r#"{"steps": [
            {"type": "text_flood", "bytes": 1000000},
            {"type": "text_flood", "bytes": 10, "piece_bytes": 3},
            {"type": "unterminated_line", "bytes": 65536},
            {"type": "keep_alive_only", "interval_ms": 100}
        ]}"#;
        let script = Script::from_json_str(json, "inline").unwrap();
        assert_eq!(script.steps[0], Step::text_flood(1_000_000));
        assert_eq!(
            script.steps[1],
            Step::TextFlood {
                bytes: 10,
                piece_bytes: 3
            }
        );
        assert_eq!(script.steps[2], Step::unterminated_line(65536));
        assert_eq!(script.steps[3], Step::keep_alive_only(100));
        let spinning = Script::new(vec![Step::keep_alive_only(0)]);
        let message = spinning.validate().unwrap_err().to_string();
        assert!(message.contains("step 1 (keep_alive_only)"), "{message}");
    }

    #[test]
    fn round_trips_through_json() {
        let script = Script::new(vec![
            Step::text("a").with_delay_ms(5),
            Step::tool_calls("thinking", vec![ScriptedCall::new("1", "x", "{}")]),
        ]);
        let json = serde_json::to_string(&script).unwrap();
        assert_eq!(Script::from_json_str(&json, "round trip").unwrap(), script);
    }

    #[test]
    fn rejects_unknown_fields_and_types_naming_them() {
        let typo = r#"{"steps": [{"type": "text", "text": "hi", "delay": 5}]}"#;
        let message = Script::from_json_str(typo, "inline")
            .unwrap_err()
            .to_string();
        assert!(message.contains("delay"), "{message}");

        let unknown = r#"{"steps": [{"type": "txt", "text": "hi"}]}"#;
        let message = Script::from_json_str(unknown, "inline")
            .unwrap_err()
            .to_string();
        assert!(message.contains("txt"), "{message}");
    }

    #[test]
    fn rejects_non_error_status_and_empty_calls() {
        let bad_status = Script::new(vec![Step::text("ok"), Step::http_error(200, "no")]);
        let message = bad_status.validate().unwrap_err().to_string();
        assert!(message.contains("step 2 (http_error)"), "{message}");
        assert!(message.contains("400 to 599"), "{message}");

        let no_calls = Script::new(vec![Step::tool_calls("", vec![])]);
        let message = no_calls.validate().unwrap_err().to_string();
        assert!(message.contains("step 1 (tool_calls)"), "{message}");
    }

    #[test]
    fn the_documented_example_script_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example-script.json");
        let script = Script::load(&path).unwrap();
        assert_eq!(script.steps.len(), 5);
        assert_eq!(script.steps[4], Step::hang());
    }

    #[test]
    fn load_names_the_missing_file() {
        let error = Script::load(Path::new("/nonexistent/script.json")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/script.json"));
    }
}
