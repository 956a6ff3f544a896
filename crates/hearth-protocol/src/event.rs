//! Events the agent loop emits while a turn runs. The CLI prints them, `--json`
//! serialises one per line, and later the gateway forwards them over WebSocket.

use serde::{Deserialize, Serialize};

use crate::{ToolCall, ToolResult, Usage};

/// Why a model response or a whole turn ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model gave a final answer.
    #[default]
    EndTurn,
    /// The model asked for tools.
    ToolUse,
    /// The model hit its output token limit.
    MaxTokens,
    /// The turn hit `--max-steps`.
    StepLimit,
    /// The user cancelled (Ctrl-C).
    Cancelled,
    /// The same failing tool call kept repeating.
    LoopDetected,
    /// The model declined to answer (Anthropic `stop_reason: "refusal"`, an OpenAI
    /// `refusal` field). Any partial text is kept in the transcript but never replayed.
    Refusal,
    /// The provider's content filter cut the answer off (OpenAI
    /// `finish_reason: "content_filter"`).
    ContentFilter,
    /// The conversation no longer fits the model's context window (Anthropic
    /// `stop_reason: "model_context_window_exceeded"`).
    ContextWindowExceeded,
}

impl StopReason {
    /// Whether the provider stopped the answer instead of the model finishing it: a
    /// refusal, a content filter or a context overflow. Such an answer is not sent back
    /// to the model in later requests (a replayed refusal keeps being refused).
    pub fn is_provider_stop(self) -> bool {
        matches!(
            self,
            StopReason::Refusal | StopReason::ContentFilter | StopReason::ContextWindowExceeded
        )
    }
}

/// One line of `hearth run --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    SessionStarted {
        session_id: String,
        model: String,
    },
    TextDelta {
        text: String,
    },
    ToolCall {
        call: ToolCall,
    },
    ToolResult {
        result: ToolResult,
    },
    Usage {
        step: u32,
        usage: Usage,
    },
    /// A retryable provider error; the loop will try again after `delay_ms`. The model
    /// call starts over: text deltas it streamed before this event are not part of the
    /// answer (the `final` event carries the answer as it was completed).
    Retry {
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
    Final {
        session_id: String,
        text: String,
        stop_reason: StopReason,
        steps: u32,
        usage: Usage,
    },
    Error {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn provider_stops_have_their_own_names_and_are_not_replayed() {
        for (reason, name) in [
            (StopReason::Refusal, "\"refusal\""),
            (StopReason::ContentFilter, "\"content_filter\""),
            (
                StopReason::ContextWindowExceeded,
                "\"context_window_exceeded\"",
            ),
        ] {
            assert_eq!(serde_json::to_string(&reason).unwrap(), name);
            assert!(reason.is_provider_stop());
            assert!(!Message::stopped_assistant("partial", reason).is_replayed());
        }
        assert!(!StopReason::MaxTokens.is_provider_stop());
        assert!(Message::assistant("fine", vec![]).is_replayed());
    }

    #[test]
    fn rows_stored_before_the_new_fields_still_load() {
        let old: Message = serde_json::from_str(r#"{"role":"assistant","text":"hi"}"#).unwrap();
        assert!(old.is_replayed());
        let usage: Usage = serde_json::from_str(r#"{"input_tokens":3,"output_tokens":2}"#).unwrap();
        assert_eq!(usage.cache_creation_tokens, 0);
        let stored =
            serde_json::to_string(&Message::stopped_assistant("no", StopReason::Refusal)).unwrap();
        assert!(stored.contains(r#""provider_stop":"refusal""#), "{stored}");
    }
}
