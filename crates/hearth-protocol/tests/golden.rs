//! The JSON of every protocol type, pinned: these bytes are the stored transcript
//! format (`state.db` rows) and the `hearth run --json` output, so a change to them is
//! a change of contract and must show up as a diff of `tests/golden/*.jsonl`. One file
//! per type family, one value per line, exactly as `serde_json::to_string` writes it;
//! each line must also read back as the value it came from.
//!
//! `HEARTH_UPDATE_SNAPSHOTS=1 cargo test -p hearth-protocol` rewrites the files after a
//! deliberate change. A new enum variant does not compile until it is named in the
//! `*_variant` function below, and the test fails until a value of it is pinned.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::PathBuf;

use hearth_protocol::{
    AgentEvent, Message, ModelRequest, ModelResponse, ProviderState, StopReason, ToolCall,
    ToolResult, ToolSpec, TurnEnd, TurnFailure, Usage,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `values`, one JSON line each, with `tests/golden/<file>`, and reads every
/// line of the file back as the value it pins.
fn pin<T: Serialize + DeserializeOwned + PartialEq + Debug>(file: &str, values: &[T]) {
    let text: String = values
        .iter()
        .map(|value| serde_json::to_string(value).unwrap() + "\n")
        .collect();
    hearth_testkit::snapshot::assert_matches(golden(file), &text);
    let stored = std::fs::read_to_string(golden(file)).unwrap();
    for (line, value) in stored.lines().zip(values) {
        let read: T = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("{file}: {line} does not read back: {error}"));
        assert_eq!(&read, value, "{file}: {line}");
    }
}

/// Asserts that `values` hold every variant `name_of` knows (the `all` list).
fn covers<T>(values: &[T], name_of: fn(&T) -> &'static str, all: &[&'static str]) {
    let covered: BTreeSet<&str> = values.iter().map(name_of).collect();
    let all: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(covered, all, "pin a value of every variant");
}

fn read_call() -> ToolCall {
    ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"src/main.rs"}"#.into(),
    }
}

fn broken_call() -> ToolCall {
    ToolCall {
        id: "call_2".into(),
        name: "exec".into(),
        arguments: "{not json".into(),
    }
}

fn provider_state() -> ProviderState {
    let fields = json!({"reasoning_content": "First, look at the file."});
    ProviderState {
        wire: "openai".into(),
        model: "deepseek-reasoner".into(),
        fields: fields.as_object().unwrap().clone(),
    }
}

fn usage() -> Usage {
    Usage {
        input_tokens: 1200,
        output_tokens: 85,
        cached_tokens: 1024,
        cache_creation_tokens: 64,
    }
}

#[test]
fn tool_calls_and_results() {
    pin("tool_call.jsonl", &[read_call(), broken_call()]);
    pin(
        "tool_result.jsonl",
        &[
            ToolResult::ok(&read_call(), "fn main() {}\n"),
            ToolResult::error(&broken_call(), "arguments are not valid JSON"),
            ToolResult::ok(&read_call(), ""),
        ],
    );
}

fn message_variant(message: &Message) -> &'static str {
    match message {
        Message::User { said: Some(_), .. } => "user_with_additions",
        Message::User { .. } => "user",
        Message::Assistant {
            provider_stop: Some(_),
            ..
        } => "assistant_stopped",
        Message::Assistant {
            provider_state: Some(_),
            ..
        } => "assistant_with_state",
        Message::Assistant { tool_calls, .. } if !tool_calls.is_empty() => "assistant_calls",
        Message::Assistant { .. } => "assistant_text",
        Message::Tool(_) => "tool",
    }
}

#[test]
fn messages_as_stored_in_transcripts() {
    let messages = [
        Message::user("Read main.rs — and say «hi» 👋\nsecond line"),
        Message::user(""),
        Message::user_with_additions(
            "Remind me tomorrow",
            "Remind me tomorrow\n\n[now: 2026-12-05 09:12 Europe/Berlin, Saturday]",
        ),
        Message::assistant("It prints nothing.", vec![]),
        Message::assistant("", vec![read_call(), broken_call()]),
        Message::assistant("Let me look.", vec![read_call()]),
        Message::assistant_with_state("", vec![read_call()], Some(provider_state())),
        Message::stopped_assistant("I started to", StopReason::Refusal),
        Message::Tool(ToolResult::ok(&read_call(), "fn main() {}\n")),
        Message::Tool(ToolResult::error(&broken_call(), "not valid JSON")),
    ];
    covers(
        &messages,
        message_variant,
        &[
            "user",
            "user_with_additions",
            "assistant_text",
            "assistant_calls",
            "assistant_with_state",
            "assistant_stopped",
            "tool",
        ],
    );
    pin("message.jsonl", &messages);
    pin("provider_state.jsonl", &[provider_state()]);
}

fn stop_reason_variant(reason: &StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::ToolUse => "tool_use",
        StopReason::MaxTokens => "max_tokens",
        StopReason::Refusal => "refusal",
        StopReason::ContentFilter => "content_filter",
        StopReason::ContextWindowExceeded => "context_window_exceeded",
    }
}

const STOP_REASONS: [StopReason; 6] = [
    StopReason::EndTurn,
    StopReason::ToolUse,
    StopReason::MaxTokens,
    StopReason::Refusal,
    StopReason::ContentFilter,
    StopReason::ContextWindowExceeded,
];

fn turn_end_variant(end: &TurnEnd) -> &'static str {
    match end {
        TurnEnd::Completed => "completed",
        TurnEnd::Truncated => "truncated",
        TurnEnd::MaxSteps => "max_steps",
        TurnEnd::LoopDetected => "loop_detected",
        TurnEnd::Cancelled => "cancelled",
        TurnEnd::ProviderStopped { .. } => "provider_stopped",
    }
}

#[test]
fn stop_reasons_and_turn_ends() {
    covers(
        &STOP_REASONS,
        stop_reason_variant,
        &[
            "end_turn",
            "tool_use",
            "max_tokens",
            "refusal",
            "content_filter",
            "context_window_exceeded",
        ],
    );
    pin("stop_reason.jsonl", &STOP_REASONS);
    let ends = [
        TurnEnd::Completed,
        TurnEnd::Truncated,
        TurnEnd::MaxSteps,
        TurnEnd::LoopDetected,
        TurnEnd::Cancelled,
        TurnEnd::ProviderStopped {
            stop_reason: StopReason::ContentFilter,
        },
    ];
    covers(
        &ends,
        turn_end_variant,
        &[
            "completed",
            "truncated",
            "max_steps",
            "loop_detected",
            "cancelled",
            "provider_stopped",
        ],
    );
    pin("turn_end.jsonl", &ends);
}

fn turn_failure_variant(failure: &TurnFailure) -> &'static str {
    match failure {
        TurnFailure::Budget => "budget",
        TurnFailure::Model => "model",
        TurnFailure::Store => "store",
        TurnFailure::Compaction => "compaction",
    }
}

#[test]
fn turn_failures() {
    let failures = [
        TurnFailure::Budget,
        TurnFailure::Model,
        TurnFailure::Store,
        TurnFailure::Compaction,
    ];
    covers(
        &failures,
        turn_failure_variant,
        &["budget", "model", "store", "compaction"],
    );
    pin("turn_failure.jsonl", &failures);
}

#[test]
fn usage_and_its_older_shape() {
    pin("usage.jsonl", &[usage(), Usage::default()]);
    // Rows and lines written before the cache fields existed still read.
    let old: Usage = serde_json::from_str(r#"{"input_tokens":3,"output_tokens":2}"#).unwrap();
    assert_eq!(
        old,
        Usage {
            input_tokens: 3,
            output_tokens: 2,
            ..Usage::default()
        }
    );
}

fn event_variant(event: &AgentEvent) -> &'static str {
    match event {
        AgentEvent::SessionStarted { .. } => "session_started",
        AgentEvent::TextDelta { .. } => "text_delta",
        AgentEvent::ToolCall { .. } => "tool_call",
        AgentEvent::ToolResult { .. } => "tool_result",
        AgentEvent::Usage { .. } => "usage",
        AgentEvent::Retry { .. } => "retry",
        AgentEvent::Final { .. } => "final",
        AgentEvent::Error { .. } => "error",
    }
}

/// The lines of `hearth run --json`, in the order a turn emits them.
#[test]
fn agent_events_as_json_lines() {
    let session_id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_string();
    let events = [
        AgentEvent::SessionStarted {
            session_id: session_id.clone(),
            model: "openai:gpt-4.1-mini".into(),
        },
        AgentEvent::Retry {
            attempt: 1,
            delay_ms: 500,
            reason: "HTTP 429: slow down".into(),
        },
        AgentEvent::TextDelta {
            text: "Let me look.".into(),
        },
        AgentEvent::ToolCall { call: read_call() },
        AgentEvent::ToolResult {
            result: ToolResult::ok(&read_call(), "fn main() {}\n"),
        },
        AgentEvent::Usage {
            step: 1,
            usage: usage(),
        },
        AgentEvent::Error {
            message: "the tool result was cut at 64 KiB".into(),
            failure: None,
        },
        AgentEvent::Error {
            message: "Stopped before a model call: it would pass the daily budget".into(),
            failure: Some(TurnFailure::Budget),
        },
        AgentEvent::Final {
            session_id,
            text: "It prints nothing.".into(),
            end: TurnEnd::Completed,
            steps: 2,
            usage: usage(),
        },
    ];
    covers(
        &events,
        event_variant,
        &[
            "session_started",
            "text_delta",
            "tool_call",
            "tool_result",
            "usage",
            "retry",
            "final",
            "error",
        ],
    );
    pin("agent_event.jsonl", &events);
}

#[test]
fn model_requests_and_responses() {
    let spec = ToolSpec {
        name: "read_file".into(),
        description: "Read a file in the workspace.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"]
        }),
    };
    pin("tool_spec.jsonl", std::slice::from_ref(&spec));
    pin(
        "model_request.jsonl",
        &[ModelRequest {
            model: "gpt-4.1-mini".into(),
            system: "You are Hearth.".into(),
            messages: vec![
                Message::user("Read main.rs"),
                Message::assistant("", vec![read_call()]),
                Message::Tool(ToolResult::ok(&read_call(), "fn main() {}\n")),
            ],
            tools: vec![spec],
            max_tokens: 8192,
            stream: true,
        }],
    );
    pin(
        "model_response.jsonl",
        &[
            ModelResponse {
                text: "It prints nothing.".into(),
                tool_calls: Vec::new(),
                usage: usage(),
                stop_reason: StopReason::EndTurn,
                provider_state: None,
            },
            ModelResponse {
                text: String::new(),
                tool_calls: vec![read_call()],
                usage: Usage::default(),
                stop_reason: StopReason::ToolUse,
                provider_state: Some(provider_state()),
            },
        ],
    );
}
