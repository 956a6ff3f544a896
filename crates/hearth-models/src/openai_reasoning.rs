//! The reasoning fields Chat Completions servers put on an answer and need back when it
//! is replayed: DeepSeek's `reasoning_content` (a string, streamed as
//! `delta.reasoning_content`; also sent by llama.cpp's server and vLLM) and OpenRouter's
//! `reasoning_details` (an array of objects carrying e.g. Gemini's thought signatures,
//! streamed as `delta.reasoning_details` pieces merged by their `index`). They are kept
//! as an opaque [`ProviderState`] and sent back only to the same wire format and model.
//!
//! Which messages get them back: `reasoning_details` on every replayed answer
//! (OpenRouter asks for the whole array, unmodified, on each of them);
//! `reasoning_content` only on the answers of the current turn, after the last user
//! message (DeepSeek's thinking mode needs it while a tool-using turn goes on and
//! ignores it from earlier turns).

use hearth_protocol::ProviderState;
use serde_json::{Map, Value};

use crate::limits::OutputMeter;
use crate::transport::WireError;

/// The wire name stored in [`ProviderState::wire`] for this format.
pub(crate) const OPENAI_WIRE: &str = "openai";

const REASONING_CONTENT: &str = "reasoning_content";
const REASONING_DETAILS: &str = "reasoning_details";

/// String fields of a `reasoning_details` item that arrive in pieces and are joined.
const JOINED_DETAIL_FIELDS: &[&str] = &["text", "summary"];

/// Collects a streamed answer's reasoning fields, counting their bytes against the
/// answer's limits.
#[derive(Debug, Default)]
pub(crate) struct ReasoningCollector {
    content: String,
    details: Vec<Value>,
}

impl ReasoningCollector {
    /// Takes the reasoning parts of one `delta`.
    pub fn on_delta(&mut self, delta: &Value, meter: &mut OutputMeter) -> Result<(), WireError> {
        if let Some(piece) = delta[REASONING_CONTENT]
            .as_str()
            .filter(|piece| !piece.is_empty())
        {
            meter.add_provider_state(piece.len())?;
            self.content.push_str(piece);
        }
        for item in delta[REASONING_DETAILS].as_array().into_iter().flatten() {
            meter.add_provider_state(item.to_string().len())?;
            self.merge_detail(item);
        }
        Ok(())
    }

    /// A piece with the `index` of an item already seen continues that item: its text
    /// fields are appended, its other fields fill in or replace. Anything else is a new
    /// item, kept in arrival order.
    fn merge_detail(&mut self, item: &Value) {
        let Some(piece) = item.as_object() else {
            self.details.push(item.clone());
            return;
        };
        let existing = piece
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|index| {
                self.details
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .find(|seen| seen.get("index").and_then(Value::as_u64) == Some(index))
            });
        let Some(existing) = existing else {
            self.details.push(item.clone());
            return;
        };
        for (field, value) in piece {
            match (existing.get_mut(field), value) {
                (Some(Value::String(seen)), Value::String(more))
                    if JOINED_DETAIL_FIELDS.contains(&field.as_str()) =>
                {
                    seen.push_str(more)
                }
                (_, Value::Null) => {}
                _ => {
                    existing.insert(field.clone(), value.clone());
                }
            }
        }
    }

    /// The collected fields, if there were any. The model is filled in by the caller.
    pub fn finish(self) -> Option<ProviderState> {
        let mut fields = Map::new();
        if !self.content.is_empty() {
            fields.insert(REASONING_CONTENT.to_string(), Value::String(self.content));
        }
        if !self.details.is_empty() {
            fields.insert(REASONING_DETAILS.to_string(), Value::Array(self.details));
        }
        state(fields)
    }
}

/// The reasoning fields of a whole (non-streaming) answer's `message`.
pub(crate) fn from_message(message: &Value) -> Option<ProviderState> {
    let mut fields = Map::new();
    if let Some(content) = message[REASONING_CONTENT]
        .as_str()
        .filter(|content| !content.is_empty())
    {
        fields.insert(
            REASONING_CONTENT.to_string(),
            Value::String(content.to_string()),
        );
    }
    if let Some(details) = message[REASONING_DETAILS]
        .as_array()
        .filter(|details| !details.is_empty())
    {
        fields.insert(REASONING_DETAILS.to_string(), Value::Array(details.clone()));
    }
    state(fields)
}

fn state(fields: Map<String, Value>) -> Option<ProviderState> {
    (!fields.is_empty()).then(|| ProviderState {
        wire: OPENAI_WIRE.to_string(),
        model: String::new(),
        fields,
    })
}

/// The bytes a state adds to an answer, for the response limits.
pub(crate) fn state_bytes(state: &ProviderState) -> usize {
    state
        .fields
        .values()
        .map(|value| match value {
            Value::String(text) => text.len(),
            other => other.to_string().len(),
        })
        .sum()
}

/// Puts the fields of `state` that belong on this replayed answer into `wire_message`:
/// none unless the state came from this wire format and `model`; `reasoning_content`
/// only when `in_current_turn`.
pub(crate) fn replay(
    state: Option<&ProviderState>,
    model: &str,
    in_current_turn: bool,
    wire_message: &mut Value,
) {
    let Some(state) = state.filter(|state| state.belongs_to(OPENAI_WIRE, model)) else {
        return;
    };
    let Some(wire_message) = wire_message.as_object_mut() else {
        return;
    };
    for (field, value) in &state.fields {
        if field == REASONING_CONTENT && !in_current_turn {
            continue;
        }
        if !wire_message.contains_key(field) {
            wire_message.insert(field.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::ResponseLimits;
    use serde_json::json;

    #[test]
    fn streamed_details_merge_by_index_and_content_joins() {
        let mut collector = ReasoningCollector::default();
        let mut meter = OutputMeter::new(ResponseLimits::default());
        let deltas = [
            json!({"reasoning_content": "Let me "}),
            json!({"reasoning_content": "think."}),
            json!({"reasoning_details": [{"type": "reasoning.text", "text": "Plan", "index": 0, "format": "google-gemini-v1"}]}),
            json!({"reasoning_details": [{"type": "reasoning.text", "text": " it.", "index": 0, "signature": null}]}),
            json!({"reasoning_details": [{"type": "reasoning.encrypted", "data": "sig", "index": 1}]}),
        ];
        for delta in &deltas {
            collector.on_delta(delta, &mut meter).unwrap();
        }
        let state = collector.finish().unwrap();
        assert_eq!(state.fields["reasoning_content"], "Let me think.");
        assert_eq!(
            state.fields["reasoning_details"],
            json!([
                {"type": "reasoning.text", "text": "Plan it.", "index": 0, "format": "google-gemini-v1"},
                {"type": "reasoning.encrypted", "data": "sig", "index": 1}
            ])
        );
    }

    #[test]
    fn reasoning_counts_against_the_response_limit() {
        let mut collector = ReasoningCollector::default();
        let limits = ResponseLimits {
            max_response_bytes: 8,
            ..ResponseLimits::default()
        };
        let mut meter = OutputMeter::new(limits);
        let outcome = collector.on_delta(&json!({"reasoning_content": "far too long"}), &mut meter);
        assert!(
            matches!(outcome, Err(WireError::TooLarge { .. })),
            "{outcome:?}"
        );
    }

    #[test]
    fn replay_goes_only_to_the_same_wire_and_model() {
        let mut state =
            from_message(&json!({"reasoning_content": "r", "reasoning_details": [1]})).unwrap();
        state.model = "deepseek-chat".into();
        let replayed = |model: &str, current: bool| {
            let mut wire = json!({"role": "assistant", "content": ""});
            replay(Some(&state), model, current, &mut wire);
            wire
        };
        assert_eq!(
            replayed("deepseek-chat", true),
            json!({"role": "assistant", "content": "", "reasoning_content": "r", "reasoning_details": [1]})
        );
        assert_eq!(
            replayed("deepseek-chat", false),
            json!({"role": "assistant", "content": "", "reasoning_details": [1]})
        );
        assert_eq!(
            replayed("gpt-4o", true),
            json!({"role": "assistant", "content": ""})
        );
        let mut foreign = state.clone();
        foreign.wire = "anthropic".into();
        let mut wire = json!({"role": "assistant", "content": ""});
        replay(Some(&foreign), "deepseek-chat", true, &mut wire);
        assert_eq!(wire, json!({"role": "assistant", "content": ""}));
    }
}
