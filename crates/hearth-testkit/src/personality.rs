//! Provider personalities: the scripted server can behave like a particular real
//! OpenAI-compatible server where that server's documented behaviour differs from
//! OpenAI's: what it rejects in a request, what extra fields its answers carry, and how
//! it reports an error in the middle of a stream ([`Step::StreamError`](crate::Step)).
//! Each variant names the public source of the behaviour it copies.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Which real server the scripted server imitates. Only the OpenAI wire is affected;
/// Anthropic requests are answered the same under every personality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Personality {
    /// OpenAI's own API: accepts `content: null` beside `tool_calls`, reports a stream
    /// error as a `data: {"error": …}` chunk followed by `data: [DONE]`.
    #[default]
    OpenAi,
    /// LM Studio's OpenAI-compatible server. Source: LM Studio bug tracker threads on
    /// tool calling, where an assistant message with `content: null` beside
    /// `tool_calls` is refused with HTTP 400 "'content' field must be a string or an
    /// array of objects".
    LmStudio,
    /// DeepSeek's API in thinking mode. Source: DeepSeek API docs, "Thinking Mode" →
    /// tool calls: answers carry `reasoning_content` (streamed as
    /// `delta.reasoning_content`), and while a tool-using turn goes on the assistant
    /// messages must be sent back with it or the request fails with HTTP 400.
    DeepSeek,
    /// OpenRouter. Sources: OpenRouter docs "Errors" (`error.metadata.provider_name`
    /// and `error.metadata.raw` carry the upstream cause; mid-stream errors come as a
    /// chunk with `error` and `finish_reason: "error"`) and "Reasoning Tokens →
    /// Preserving reasoning blocks" (`reasoning_details`, streamed as
    /// `delta.reasoning_details`, must be sent back unmodified; Gemini 3 answers 400
    /// "Function call is missing a thought_signature" otherwise).
    OpenRouter,
    /// llama.cpp's `llama-server` before late 2025. Source: llama.cpp server source
    /// (`server.cpp`, streaming error path): an error mid-stream is sent as an SSE
    /// `error:` field (not `data:`), followed by `data: [DONE]`.
    LlamaCpp,
    /// Ollama's `/v1` compatibility layer. Source: Ollama issue threads on OpenAI
    /// compatibility: an error mid-stream becomes an empty chunk, then the connection
    /// closes with no `finish_reason` and no `data: [DONE]`.
    Ollama,
}

/// LM Studio's refusal of an assistant message whose content is null.
pub const LM_STUDIO_NULL_CONTENT_ERROR: &str =
    "'content' field must be a string or an array of objects";

/// OpenRouter's `provider_name` on the errors it passes on.
pub const OPENROUTER_UPSTREAM_PROVIDER: &str = "Google AI Studio";

/// A request the personality refuses: its status and error body.
pub(crate) struct Refusal {
    pub status: u16,
    pub body: Value,
}

impl Personality {
    /// The reasoning a DeepSeek answer carries, derived from the answer so that the
    /// server can check, statelessly, that a replayed message carries it back.
    pub fn reasoning_content_for(first_call_id: Option<&str>) -> String {
        match first_call_id {
            Some(id) => format!("I should call a tool ({id})."),
            None => "I can answer now.".to_string(),
        }
    }

    /// The opaque signature OpenRouter's Gemini answers carry in `reasoning_details`.
    pub fn thought_signature_for(first_call_id: Option<&str>) -> String {
        format!("sig-{}", first_call_id.unwrap_or("answer"))
    }

    /// Whether answers carry reasoning fields.
    fn reasons(self) -> bool {
        matches!(self, Personality::DeepSeek | Personality::OpenRouter)
    }

    /// Checks an OpenAI request body the way the real server does; `Some` refuses it.
    pub(crate) fn refuse(self, body: &Value) -> Option<Refusal> {
        let messages = body["messages"].as_array()?;
        match self {
            Personality::LmStudio => messages
                .iter()
                .any(|message| {
                    message["role"] == "assistant"
                        && !(message["content"].is_string() || message["content"].is_array())
                })
                .then(|| Refusal {
                    status: 400,
                    body: json!({"error": LM_STUDIO_NULL_CONTENT_ERROR}),
                }),
            Personality::DeepSeek => {
                let turn_start = messages.iter().rposition(|m| m["role"] == "user")?;
                let (index, _) =
                    messages
                        .iter()
                        .enumerate()
                        .skip(turn_start)
                        .find(|(_, message)| {
                            calls_without(message, "reasoning_content", |value, first_id| {
                                value.as_str()
                                    == Some(&Personality::reasoning_content_for(first_id))
                            })
                        })?;
                Some(Refusal {
                    status: 400,
                    body: json!({"error": {
                        "message": format!("Missing `reasoning_content` field in the assistant message at message index {index}. In thinking mode the reasoning_content of tool-calling assistant messages must be passed back."),
                        "type": "invalid_request_error", "param": null, "code": "invalid_request_error",
                    }}),
                })
            }
            Personality::OpenRouter => {
                let missing = messages.iter().any(|message| {
                    calls_without(message, "reasoning_details", |value, first_id| {
                        let signature = Personality::thought_signature_for(first_id);
                        value.as_array().is_some_and(|details| {
                            details.iter().any(|detail| {
                                detail["type"] == "reasoning.encrypted"
                                    && detail["data"] == signature.as_str()
                            })
                        })
                    })
                });
                missing.then(|| Refusal {
                    status: 400,
                    body: openrouter_error(
                        400,
                        "Provider returned error",
                        r#"{"error":{"code":400,"message":"Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly.","status":"INVALID_ARGUMENT"}}"#,
                    ),
                })
            }
            Personality::OpenAi | Personality::LlamaCpp | Personality::Ollama => None,
        }
    }

    /// Adds the personality's extra fields to a whole answer's `message`.
    pub(crate) fn decorate_message(self, message: &mut Value, first_call_id: Option<&str>) {
        match self {
            Personality::DeepSeek => {
                message["reasoning_content"] =
                    json!(Personality::reasoning_content_for(first_call_id));
            }
            Personality::OpenRouter => {
                message["reasoning_details"] = json!([
                    {"type": "reasoning.text", "text": "Thinking it over.", "format": "google-gemini-v1", "index": 0},
                    {"type": "reasoning.encrypted", "data": Personality::thought_signature_for(first_call_id), "format": "google-gemini-v1", "index": 1},
                ]);
            }
            _ => {}
        }
    }

    /// The `delta`s that stream the personality's reasoning before the answer.
    pub(crate) fn reasoning_deltas(self, first_call_id: Option<&str>) -> Vec<Value> {
        if !self.reasons() {
            return Vec::new();
        }
        match self {
            Personality::DeepSeek => {
                let reasoning = Personality::reasoning_content_for(first_call_id);
                let (first, second) = reasoning.split_at(reasoning.len() / 2);
                vec![
                    json!({"role": "assistant", "content": null, "reasoning_content": first}),
                    json!({"reasoning_content": second}),
                ]
            }
            _ => vec![
                json!({"role": "assistant", "content": "", "reasoning_details": [
                    {"type": "reasoning.text", "text": "Thinking", "format": "google-gemini-v1", "index": 0}]}),
                json!({"content": "", "reasoning_details": [
                    {"type": "reasoning.text", "text": " it over.", "index": 0}]}),
                json!({"content": "", "reasoning_details": [
                    {"type": "reasoning.encrypted", "data": Personality::thought_signature_for(first_call_id), "format": "google-gemini-v1", "index": 1}]}),
            ],
        }
    }

    /// The HTTP error body for `status`, or `None` for OpenAI's own shape.
    pub(crate) fn error_body(self, status: u16, message: &str) -> Option<Value> {
        match self {
            Personality::OpenRouter => Some(openrouter_error(
                status,
                message,
                &format!(r#"{{"error":{{"code":{status},"message":"upstream: {message}"}}}}"#),
            )),
            _ => None,
        }
    }

    /// How a stream reports an error after it began, and whether `[DONE]` follows.
    pub(crate) fn stream_error_frames(
        self,
        message: &str,
        chunk: impl Fn(Value, Option<&str>) -> Value,
    ) -> (Vec<Bytes>, bool) {
        let error = json!({"message": message, "type": "server_error", "code": 500});
        match self {
            Personality::LlamaCpp => (vec![Bytes::from(format!("error: {error}\n\n"))], true),
            Personality::Ollama => {
                let empty = chunk(json!({"role": "assistant", "content": ""}), None);
                (vec![frame(&empty)], false)
            }
            Personality::OpenRouter => {
                let mut failed = chunk(json!({"content": ""}), Some("error"));
                failed["error"] = openrouter_error(
                    502,
                    message,
                    &format!(r#"{{"error":"upstream: {message}"}}"#),
                )["error"]
                    .clone();
                (vec![frame(&failed)], true)
            }
            Personality::OpenAi | Personality::LmStudio | Personality::DeepSeek => {
                (vec![frame(&json!({"error": error}))], true)
            }
        }
    }
}

/// Whether `message` is an assistant message with tool calls whose `field` does not
/// pass `carries` (given the field's value and the first call's id).
fn calls_without(
    message: &Value,
    field: &str,
    carries: impl Fn(&Value, Option<&str>) -> bool,
) -> bool {
    let Some(calls) = message["tool_calls"]
        .as_array()
        .filter(|calls| !calls.is_empty())
    else {
        return false;
    };
    message["role"] == "assistant" && !carries(&message[field], calls[0]["id"].as_str())
}

fn openrouter_error(status: u16, message: &str, raw: &str) -> Value {
    json!({"error": {
        "code": status,
        "message": message,
        "metadata": {"provider_name": OPENROUTER_UPSTREAM_PROVIDER, "raw": raw},
    }})
}

fn frame(json: &Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}
