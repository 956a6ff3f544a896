//! Events the agent loop emits while a turn runs. The CLI prints them, `--json`
//! serialises one per line, and later the gateway forwards them over WebSocket.

use serde::{Deserialize, Serialize};

use crate::{ToolCall, ToolResult, Usage};

/// Why the model stopped one answer, as the provider reported it.
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

/// Why a whole turn ended (the `end` of the `final` event), as opposed to why one
/// model answer stopped ([`StopReason`]). [`TurnEnd::succeeded`] is the one place that
/// says which ends count as success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TurnEnd {
    /// The model gave its answer.
    #[default]
    Completed,
    /// The answer was cut at the output token limit (`[limits] max_output_tokens`);
    /// tool calls cut off with it were answered "not run".
    Truncated,
    /// The turn hit `--max-steps`.
    MaxSteps,
    /// The same failing tool call kept repeating.
    LoopDetected,
    /// The caller cancelled the turn (Ctrl-C).
    Cancelled,
    /// The provider stopped the answer: `stop_reason` is one for which
    /// [`StopReason::is_provider_stop`] holds.
    ProviderStopped { stop_reason: StopReason },
}

impl TurnEnd {
    /// Whether the turn produced the answer it was asked for (possibly cut at the
    /// output limit): the CLI's exit status 0, an MCP `ask` that returns text.
    pub fn succeeded(self) -> bool {
        matches!(self, TurnEnd::Completed | TurnEnd::Truncated)
    }
}

/// Why a turn stopped without an answer (the `failure` of the `error` event): what a
/// program acts on instead of the message's words (the scheduler records a budget stop
/// as such).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnFailure {
    /// The next model call would have passed a `[budget]` limit, so it was not made.
    Budget,
    /// The provider failed in a way retries did not mend.
    Model,
    /// The state database could not be read or written.
    Store,
    /// The history had to be compacted before the next call, and that failed.
    Compaction,
}

/// One line of `hearth run --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The user's message is durable in the session (emitted by the loop, once per
    /// turn, before anything else happens).
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
    /// The turn is over: its last text, why it ended, the model calls it made and
    /// the tokens they used.
    Final {
        session_id: String,
        text: String,
        end: TurnEnd,
        steps: u32,
        usage: Usage,
    },
    /// The turn stopped without an answer; `failure` says why where that is known
    /// (absent, and not serialised, otherwise).
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<TurnFailure>,
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
    fn a_turn_end_says_once_whether_the_turn_succeeded() {
        let ends = [
            (TurnEnd::Completed, true, r#"{"kind":"completed"}"#),
            (TurnEnd::Truncated, true, r#"{"kind":"truncated"}"#),
            (TurnEnd::MaxSteps, false, r#"{"kind":"max_steps"}"#),
            (TurnEnd::LoopDetected, false, r#"{"kind":"loop_detected"}"#),
            (TurnEnd::Cancelled, false, r#"{"kind":"cancelled"}"#),
            (
                TurnEnd::ProviderStopped {
                    stop_reason: StopReason::Refusal,
                },
                false,
                r#"{"kind":"provider_stopped","stop_reason":"refusal"}"#,
            ),
        ];
        for (end, succeeded, json) in ends {
            assert_eq!(end.succeeded(), succeeded, "{end:?}");
            assert_eq!(serde_json::to_string(&end).unwrap(), json);
            assert_eq!(serde_json::from_str::<TurnEnd>(json).unwrap(), end);
        }
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
