//! What the agent sends a model provider and what comes back, independent of the
//! wire format (OpenAI Chat Completions, Anthropic Messages, in-process models).

use serde::{Deserialize, Serialize};

use crate::message::{Message, ProviderState, ToolCall};
use crate::StopReason;

/// A tool as offered to the model: name, description and a JSON Schema for arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// One request to a model. `model` is the provider's own model name (without the
/// `provider:` prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    pub model: String,
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub max_tokens: u32,
    pub stream: bool,
}

/// Tokens one call consumed, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache (a subset of, or for
    /// Anthropic in addition to, `input_tokens`, as the provider counts them).
    #[serde(default)]
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache by this call (Anthropic's
    /// `cache_creation_input_tokens`; billed above the normal input price).
    #[serde(default)]
    pub cache_creation_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_tokens += other.cached_tokens;
        self.cache_creation_tokens += other.cache_creation_tokens;
    }
}

/// Incremental output of a streaming call, already decoded from the wire format.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    TextDelta(String),
    /// A tool call has begun at position `index` of this response.
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallArgs {
        index: usize,
        fragment: String,
    },
    /// The call failed in a retryable way (429, 5xx, a dropped connection) and will be
    /// tried again after `delay_ms`: discard any partial output of this response.
    Retry {
        attempt: u32,
        delay_ms: u64,
        reason: String,
    },
}

/// A complete model answer: the assistant's text, its tool calls, usage and why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelResponse {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub stop_reason: StopReason,
    /// Opaque fields to send back with this answer when it is replayed (see
    /// [`ProviderState`]); the loop stores them with the assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_state: Option<ProviderState>,
}
