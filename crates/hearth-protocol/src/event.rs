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
