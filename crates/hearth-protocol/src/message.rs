//! Conversation history as both wire formats need it: user text, assistant text with
//! tool calls, and one tool result per call.

use serde::{Deserialize, Serialize};

use crate::StopReason;

/// One entry of a conversation. The order of a `Vec<Message>` is the order on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    User {
        /// What the model is sent.
        text: String,
        /// The person's own words, where `text` adds to them for the model (the loop's
        /// `[now: …]` line, recalled memories): what a transcript shows as theirs.
        /// `text` starts with it. Absent when `text` is only their words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        said: Option<String>,
    },
    Assistant {
        #[serde(default, skip_serializing_if = "String::is_empty")]
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall>,
        /// Set when the provider stopped this answer instead of the model finishing it
        /// (see [`StopReason::is_provider_stop`]): the transcript keeps the partial text,
        /// but requests leave the message out ([`Message::is_replayed`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_stop: Option<StopReason>,
        /// Opaque reasoning fields the provider asked to get back with this message
        /// (DeepSeek's `reasoning_content`, OpenRouter's `reasoning_details`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_state: Option<ProviderState>,
    },
    Tool(ToolResult),
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Message::User {
            text: text.into(),
            said: None,
        }
    }

    /// A user message whose `text` is what the person `said` followed by what the loop
    /// adds for the model; `said` is kept only where `text` differs from it.
    pub fn user_with_additions(said: impl Into<String>, text: impl Into<String>) -> Self {
        let (said, text) = (said.into(), text.into());
        Message::User {
            said: (said != text).then_some(said),
            text,
        }
    }

    pub fn assistant(text: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Message::Assistant {
            text: text.into(),
            tool_calls,
            provider_stop: None,
            provider_state: None,
        }
    }

    /// The message as a model request carries it: `said` left out (only transcripts
    /// show it; the model is sent `text`), so requests and their size estimates are
    /// the same as for a message that never had it.
    pub fn for_model(&self) -> Message {
        match self {
            Message::User { text, .. } => Message::user(text.clone()),
            other => other.clone(),
        }
    }

    /// An answer with the provider's opaque state to send back with it (see
    /// [`ProviderState`]); `None` is the same as [`Message::assistant`].
    pub fn assistant_with_state(
        text: impl Into<String>,
        tool_calls: Vec<ToolCall>,
        provider_state: Option<ProviderState>,
    ) -> Self {
        Message::Assistant {
            text: text.into(),
            tool_calls,
            provider_stop: None,
            provider_state,
        }
    }

    /// An answer the provider stopped (a refusal, a content filter, a context
    /// overflow): stored for the record, never sent back to a model.
    pub fn stopped_assistant(text: impl Into<String>, reason: StopReason) -> Self {
        Message::Assistant {
            text: text.into(),
            tool_calls: Vec::new(),
            provider_stop: Some(reason),
            provider_state: None,
        }
    }

    /// Whether this message belongs in later requests to a model: everything but an
    /// answer the provider stopped.
    pub fn is_replayed(&self) -> bool {
        !matches!(
            self,
            Message::Assistant {
                provider_stop: Some(_),
                ..
            }
        )
    }

    /// The role as a plain word, for storage and display.
    pub fn role(&self) -> &'static str {
        match self {
            Message::User { .. } => "user",
            Message::Assistant { .. } => "assistant",
            Message::Tool(_) => "tool",
        }
    }
}

/// Fields a provider put on an answer that it needs back, unchanged, when the answer is
/// replayed in a later request (reasoning that a tool-using turn must carry forward).
/// Opaque to Hearth: stored and sent back as they came, and only to the provider that
/// produced them: the same wire format (`wire`, e.g. `openai`) and the same `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderState {
    /// The wire format that produced the fields: `openai` or `anthropic`.
    pub wire: String,
    /// The provider's own model name that produced them.
    pub model: String,
    /// The fields as the assistant message carries them on the wire, e.g.
    /// `{"reasoning_content": "..."}` or `{"reasoning_details": [...]}`.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ProviderState {
    /// Whether these fields may be sent to `model` over `wire`.
    pub fn belongs_to(&self, wire: &str, model: &str) -> bool {
        self.wire == wire && self.model == model
    }
}

/// A call the model asked for. `arguments` is the raw JSON text the model produced,
/// kept verbatim (it may be malformed; the loop turns that into an error result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// The answer to exactly one [`ToolCall`], matched by `call_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    pub call_id: String,
    pub name: String,
    pub content: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: content.into(),
            is_error: false,
        }
    }

    pub fn error(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            call_id: call.id.clone(),
            name: call.name.clone(),
            content: content.into(),
            is_error: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_persons_words_are_kept_beside_the_text_but_never_sent() {
        let text = "Remind me tomorrow\n\n[now: 2026-12-05 09:12 Europe/Berlin, Saturday]";
        let message = Message::user_with_additions("Remind me tomorrow", text);
        assert!(
            matches!(&message, Message::User { said: Some(said), .. } if said == "Remind me tomorrow")
        );
        assert_eq!(message.for_model(), Message::user(text));
        assert_eq!(
            Message::user_with_additions("hi", "hi"),
            Message::user("hi"),
            "nothing added: no `said`"
        );
    }
}
