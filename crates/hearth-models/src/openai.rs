//! OpenAI Chat Completions on the wire, as OpenAI, vLLM, llama.cpp's server, Ollama's
//! `/v1` and OpenRouter speak it: the request body, the SSE chunk decoder (tool-call
//! fragments keyed by `index`) and the non-streaming response.

use std::collections::HashMap;

use hearth_protocol::{
    Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolCall, Usage,
};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

use crate::error::{error_object_is_retryable, error_object_message};
use crate::limits::{OutputMeter, ResponseLimits};
use crate::openai_reasoning::{self, ReasoningCollector};
use crate::sse::SseEvent;
use crate::transport::{json_payloads, StreamDecoder, WireError, WireFormat};
use crate::ProviderKind;

pub(crate) struct OpenAiWire;

impl WireFormat for OpenAiWire {
    type Decoder = OpenAiStreamDecoder;

    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
    }

    fn endpoint_url(&self, base_url: &str) -> String {
        format!("{}/chat/completions", base_url.trim_end_matches('/'))
    }

    fn headers(&self, api_key: Option<&str>) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key.filter(|key| !key.is_empty()) {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| "api_key contains characters that cannot go in an HTTP header (a stray newline?)".to_string())?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(headers)
    }

    fn request_body(&self, request: &ModelRequest) -> Value {
        request_body(request)
    }

    fn new_decoder(&self, limits: ResponseLimits) -> OpenAiStreamDecoder {
        OpenAiStreamDecoder {
            meter: OutputMeter::new(limits),
            ..OpenAiStreamDecoder::default()
        }
    }

    fn parse_response(&self, body: &[u8]) -> Result<ModelResponse, WireError> {
        parse_response(body)
    }

    fn terminator(&self) -> &'static str {
        "data: [DONE]"
    }
}

/// The Chat Completions body: the history (see [`wire_message`]), the output limit
/// (see [`max_tokens_field`]), and the tools with `parallel_tool_calls: true`. No
/// sampling settings: the server's (or the model's) own apply.
pub(crate) fn request_body(request: &ModelRequest) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        messages.push(json!({"role": "system", "content": request.system}));
    }
    let current_turn_start = request
        .messages
        .iter()
        .rposition(|message| matches!(message, Message::User { .. }))
        .unwrap_or(0);
    messages.extend(
        request
            .messages
            .iter()
            .enumerate()
            .filter(|(_, message)| message.is_replayed())
            .filter_map(|(position, message)| {
                wire_message(message, &request.model, position > current_turn_start)
            }),
    );
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": request.stream,
    });
    if request.max_tokens > 0 {
        body[max_tokens_field(&request.model)] = json!(request.max_tokens);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                }})
            })
            .collect();
        body["tools"] = Value::Array(tools);
        // llama.cpp's server defaults to one call per answer.
        body["parallel_tool_calls"] = Value::Bool(true);
    }
    if request.stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// The output limit's field: `max_completion_tokens` for OpenAI's reasoning models
/// (`o1`, `o3`, `o4`, `gpt-5` ids, which reject `max_tokens`), `max_tokens`, which every
/// other server reads (llama.cpp, Ollama, vLLM, LM Studio, OpenRouter, DeepSeek), for
/// everything else. Decided by the model id alone: an OpenAI model id under another
/// prefix (OpenRouter's `openai/o3`) goes to a server that takes `max_tokens`.
pub(crate) fn max_tokens_field(model: &str) -> &'static str {
    let model = model.to_ascii_lowercase();
    let reasoning_model = ["o1", "o3", "o4"]
        .iter()
        .any(|family| model == *family || model.starts_with(&format!("{family}-")))
        || model.starts_with("gpt-5");
    if reasoning_model {
        "max_completion_tokens"
    } else {
        "max_tokens"
    }
}

/// One history message on the wire, or `None` for an assistant turn with neither text
/// nor calls (a reply that was filtered, refused or spent its budget thinking), which
/// OpenAI, Ollama and LM Studio reject. Assistant content is never `null` (LM Studio
/// rejects it even beside `tool_calls`); its provider state is replayed to the model
/// that produced it (see [`openai_reasoning::replay`]).
fn wire_message(message: &Message, model: &str, in_current_turn: bool) -> Option<Value> {
    let wire = match message {
        Message::User { text, .. } => json!({"role": "user", "content": text}),
        Message::Assistant {
            text,
            tool_calls,
            provider_state,
            ..
        } => {
            if text.is_empty() && tool_calls.is_empty() {
                return None;
            }
            let mut wire = json!({"role": "assistant", "content": text});
            if !tool_calls.is_empty() {
                let calls: Vec<Value> = tool_calls
                    .iter()
                    .map(|call| {
                        json!({"id": call.id, "type": "function", "function": {
                            "name": call.name,
                            "arguments": wire_arguments(&call.arguments),
                        }})
                    })
                    .collect();
                wire["tool_calls"] = Value::Array(calls);
            }
            openai_reasoning::replay(provider_state.as_ref(), model, in_current_turn, &mut wire);
            wire
        }
        // `name`: several GGUF chat templates raise "'name' must be provided" without it.
        Message::Tool(result) => json!({
            "role": "tool",
            "tool_call_id": result.call_id,
            "name": result.name,
            "content": result.content,
        }),
    };
    Some(wire)
}

/// A call's arguments as sent back in the history: the model's own JSON object, or
/// `{}` when what it produced was not one (the loop already answered the call with an
/// error saying so). Servers such as vLLM and llama.cpp's parse this string and reject
/// the whole request when it is not a JSON object.
fn wire_arguments(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(_)) => arguments.to_string(),
        _ => "{}".to_string(),
    }
}

/// `finish_reason` to the protocol's stop reason; unknown reasons count as the end of
/// the turn.
fn stop_reason(finish_reason: Option<&str>) -> StopReason {
    match finish_reason {
        Some("tool_calls" | "function_call" | "tool_use") => StopReason::ToolUse,
        Some("length" | "max_tokens") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::ContentFilter,
        _ => StopReason::EndTurn,
    }
}

/// A refusal (a `refusal` field, OpenAI's structured-outputs behaviour) or a content
/// filter stop wins over tool calls: what the provider stopped is not an answer.
fn provider_stop(finish_reason: Option<&str>, refused: bool) -> Option<StopReason> {
    if refused {
        return Some(StopReason::Refusal);
    }
    Some(stop_reason(finish_reason)).filter(|reason| reason.is_provider_stop())
}

/// Whether the answer stopped at the output limit: tool calls in it are cut off
/// (and reported as [`StopReason::MaxTokens`], not as calls to run).
fn stopped_at_length(finish_reason: Option<&str>) -> bool {
    matches!(finish_reason, Some("length" | "max_tokens"))
}

fn usage(wire: &Value) -> Usage {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    Usage {
        input_tokens: count(&wire["prompt_tokens"]),
        output_tokens: count(&wire["completion_tokens"]),
        cached_tokens: count(&wire["prompt_tokens_details"]["cached_tokens"]),
        ..Usage::default()
    }
}

/// Tool-call arguments as text: normally a string, but some servers send the object.
fn arguments_text(arguments: &Value) -> Option<String> {
    match arguments {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn reported_error(error: &Value) -> WireError {
    WireError::Reported {
        message: error_object_message(error),
        retryable: error_object_is_retryable(error),
    }
}

/// A tool call being assembled from fragments.
#[derive(Debug, Default)]
struct PartialCall {
    /// The id the server sent, if any; a different one at the same index starts a new call.
    wire_id: String,
    id: String,
    name: String,
    arguments: String,
    started: bool,
}

#[derive(Debug, Default)]
pub(crate) struct OpenAiStreamDecoder {
    text: String,
    calls: Vec<PartialCall>,
    /// The server's `index` to the position in `calls`.
    slot_by_wire_index: HashMap<u64, usize>,
    usage: Usage,
    finish_reason: Option<String>,
    /// The server sent a `delta.refusal`: the model declined.
    refused: bool,
    /// Reasoning fields to send back with this answer.
    reasoning: ReasoningCollector,
    done: bool,
    /// Stops the answer at the first byte or call over the limits.
    meter: OutputMeter,
}

impl OpenAiStreamDecoder {
    fn on_chunk(
        &mut self,
        chunk: &Value,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        if let Some(error) = chunk.get("error").filter(|error| !error.is_null()) {
            return Err(reported_error(error));
        }
        if let Some(wire_usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            self.usage = usage(wire_usage);
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return Ok(());
        };
        let delta = &choice["delta"];
        self.reasoning.on_delta(delta, &mut self.meter)?;
        if let Some(text) = delta["content"].as_str().filter(|text| !text.is_empty()) {
            self.meter.add_text(text.len())?;
            self.text.push_str(text);
            emit(StreamEvent::TextDelta(text.to_string()));
        }
        // The refusal's wording is the answer's text; the stop reason says it refused.
        if let Some(refusal) = delta["refusal"].as_str() {
            self.refused = true;
            if !refusal.is_empty() {
                self.meter.add_text(refusal.len())?;
                self.text.push_str(refusal);
                emit(StreamEvent::TextDelta(refusal.to_string()));
            }
        }
        if let Some(fragments) = delta["tool_calls"].as_array() {
            for (position, fragment) in fragments.iter().enumerate() {
                self.on_tool_call_fragment(position, fragment, emit)?;
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            // OpenRouter ends a stream whose upstream failed with `finish_reason:
            // "error"` (normally beside an `error` object, handled above).
            if reason == "error" {
                return Err(WireError::Reported {
                    message: "the server ended the answer with finish_reason \"error\" and no error message".to_string(),
                    retryable: true,
                });
            }
            self.finish_reason = Some(reason.to_string());
        }
        Ok(())
    }

    fn on_tool_call_fragment(
        &mut self,
        position: usize,
        fragment: &Value,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let wire_index = fragment["index"].as_u64().unwrap_or(position as u64);
        let wire_id = fragment["id"].as_str().unwrap_or_default();
        let slot = match self.slot_by_wire_index.get(&wire_index) {
            Some(&slot)
                if wire_id.is_empty()
                    || self.calls[slot].wire_id.is_empty()
                    || self.calls[slot].wire_id == wire_id =>
            {
                slot
            }
            // New index, or a server reusing one index for several calls.
            _ => {
                self.meter.add_call(self.calls.len() + 1)?;
                self.calls.push(PartialCall::default());
                self.slot_by_wire_index
                    .insert(wire_index, self.calls.len() - 1);
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[slot];
        if call.wire_id.is_empty() && !wire_id.is_empty() {
            self.meter.add_label(wire_id.len())?;
            call.wire_id = wire_id.to_string();
        }
        let function = &fragment["function"];
        if let Some(name) = function["name"].as_str() {
            if call.name.is_empty() {
                self.meter.add_label(name.len())?;
                call.name = name.to_string();
            }
        }
        let fragment_text = arguments_text(&function["arguments"]).unwrap_or_default();
        self.meter.add_arguments(
            call.arguments.len().saturating_add(fragment_text.len()),
            fragment_text.len(),
        )?;
        call.arguments.push_str(&fragment_text);
        if !call.started && !call.name.is_empty() {
            start_call(slot, call, emit);
        } else if call.started && !fragment_text.is_empty() {
            emit(StreamEvent::ToolCallArgs {
                index: slot,
                fragment: fragment_text,
            });
        }
        Ok(())
    }
}

/// Announces a call once its name is known, with the arguments buffered so far.
fn start_call(slot: usize, call: &mut PartialCall, emit: &mut dyn FnMut(StreamEvent)) {
    call.started = true;
    call.id = if call.wire_id.is_empty() {
        format!("call_{slot}")
    } else {
        call.wire_id.clone()
    };
    emit(StreamEvent::ToolCallStart {
        index: slot,
        id: call.id.clone(),
        name: call.name.clone(),
    });
    if !call.arguments.is_empty() {
        emit(StreamEvent::ToolCallArgs {
            index: slot,
            fragment: call.arguments.clone(),
        });
    }
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let data = event.data.trim();
        // llama.cpp's server before late 2025 reports a failure as an `error:` SSE field
        // (the parser makes it an `error` event), then sends `data: [DONE]`.
        if event.event.as_deref() == Some("error") {
            let error = serde_json::from_str::<Value>(data)
                .unwrap_or_else(|_| Value::String(data.to_string()));
            let error = error.get("error").cloned().unwrap_or(error);
            return Err(reported_error(&error));
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        for chunk in json_payloads(data)? {
            self.on_chunk(&chunk, emit)?;
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    /// A few servers close the stream after the `finish_reason` chunk without `[DONE]`;
    /// the answer is complete then, and retrying would only pay for it twice.
    fn is_complete_without_terminator(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// Ollama's `/v1` turns a failure mid-answer into an empty chunk and a clean close.
    fn unterminated_cause(&self, terminator: &str) -> String {
        format!(
            "the stream ended without a finish reason or its terminator ({terminator}): the \
             server closed it mid-answer; Ollama's /v1 does this when the model fails \
             (out of memory, a crashed runner): check the server's log"
        )
    }

    fn finish(mut self, emit: &mut dyn FnMut(StreamEvent)) -> ModelResponse {
        for (slot, call) in self.calls.iter_mut().enumerate() {
            if !call.started {
                start_call(slot, call, emit);
            }
            if call.arguments.is_empty() {
                call.arguments = "{}".to_string();
                emit(StreamEvent::ToolCallArgs {
                    index: slot,
                    fragment: call.arguments.clone(),
                });
            }
        }
        let tool_calls: Vec<ToolCall> = self
            .calls
            .into_iter()
            .map(|call| ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        let stop_reason =
            if let Some(stop) = provider_stop(self.finish_reason.as_deref(), self.refused) {
                stop
            } else if tool_calls.is_empty() || stopped_at_length(self.finish_reason.as_deref()) {
                stop_reason(self.finish_reason.as_deref())
            } else {
                StopReason::ToolUse
            };
        ModelResponse {
            text: self.text,
            tool_calls,
            usage: self.usage,
            stop_reason,
            provider_state: self.reasoning.finish(),
        }
    }
}

/// A whole non-streaming Chat Completions response.
pub(crate) fn parse_response(body: &[u8]) -> Result<ModelResponse, WireError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| WireError::Malformed(format!("the body is not JSON ({error})")))?;
    if let Some(error) = value.get("error").filter(|error| !error.is_null()) {
        return Err(reported_error(error));
    }
    let Some(choice) = value["choices"].get(0) else {
        return Err(WireError::Malformed(
            "the response has no choices".to_string(),
        ));
    };
    let message = &choice["message"];
    let tool_calls: Vec<ToolCall> = message["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(position, call)| ToolCall {
            id: call["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map_or_else(|| format!("call_{position}"), str::to_string),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            arguments: arguments_text(&call["function"]["arguments"])
                .filter(|arguments| !arguments.is_empty())
                .unwrap_or_else(|| "{}".to_string()),
        })
        .collect();
    let refusal = message["refusal"].as_str();
    let stop_reason =
        if let Some(stop) = provider_stop(choice["finish_reason"].as_str(), refusal.is_some()) {
            stop
        } else if tool_calls.is_empty() || stopped_at_length(choice["finish_reason"].as_str()) {
            stop_reason(choice["finish_reason"].as_str())
        } else {
            StopReason::ToolUse
        };
    let text = match (message["content"].as_str(), refusal) {
        (Some(content), _) if !content.is_empty() => content,
        (_, Some(refusal)) => refusal,
        (content, None) => content.unwrap_or_default(),
    };
    Ok(ModelResponse {
        text: text.to_string(),
        tool_calls,
        usage: usage(&value["usage"]),
        stop_reason,
        provider_state: openai_reasoning::from_message(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolResult, ToolSpec};

    pub(crate) fn sample_request(stream: bool) -> ModelRequest {
        let call = ToolCall {
            id: "call_1".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"a.txt"}"#.into(),
        };
        ModelRequest {
            model: "gpt-4o-mini".into(),
            system: "You are Hearth.".into(),
            messages: vec![
                Message::user("read a.txt"),
                Message::assistant("", vec![call.clone()]),
                Message::Tool(ToolResult::ok(&call, "hello")),
                Message::assistant("It says hello.", vec![]),
                Message::user("thanks"),
            ],
            tools: vec![ToolSpec {
                name: "read_file".into(),
                description: "Read a file".into(),
                parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            }],
            max_tokens: 1024,
            stream,
        }
    }

    #[test]
    fn streaming_request_body_matches_golden_json() {
        let expected = json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are Hearth."},
                {"role": "user", "content": "read a.txt"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "name": "read_file", "content": "hello"},
                {"role": "assistant", "content": "It says hello."},
                {"role": "user", "content": "thanks"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "read_file", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}
            }}],
            "parallel_tool_calls": true,
            "max_tokens": 1024,
            "stream": true,
            "stream_options": {"include_usage": true}
        });
        assert_eq!(request_body(&sample_request(true)), expected);
    }

    #[test]
    fn plain_request_body_leaves_out_empty_parts() {
        let mut request = sample_request(false);
        request.system.clear();
        request.tools.clear();
        request.messages.truncate(1);
        request.max_tokens = 0;
        let expected = json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "read a.txt"}],
            "stream": false
        });
        assert_eq!(request_body(&request), expected);
    }

    #[test]
    fn openai_reasoning_models_get_max_completion_tokens() {
        for model in [
            "o1",
            "o1-mini",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "GPT-5-mini",
        ] {
            assert_eq!(max_tokens_field(model), "max_completion_tokens", "{model}");
        }
        for model in [
            "gpt-4o",
            "llama3.1:8b",
            "openai/o3",
            "olmo-2",
            "o3x",
            "deepseek-chat",
        ] {
            assert_eq!(max_tokens_field(model), "max_tokens", "{model}");
        }
        let mut request = sample_request(false);
        request.model = "o3-mini".into();
        let body = request_body(&request);
        assert_eq!(body["max_completion_tokens"], 1024);
        assert!(body.get("max_tokens").is_none());
    }

    #[test]
    fn empty_assistant_turns_are_left_out_and_content_is_never_null() {
        let mut request = sample_request(false);
        request.messages.insert(1, Message::assistant("", vec![]));
        let body = request_body(&request);
        let messages = body["messages"].as_array().unwrap();
        let roles: Vec<&str> = messages
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(
            roles,
            ["system", "user", "assistant", "tool", "assistant", "user"]
        );
        assert!(messages.iter().all(|m| m["content"].is_string()), "{body}");
        for field in ["temperature", "top_p"] {
            assert!(body.get(field).is_none(), "{field} is left to the server");
        }
    }

    #[test]
    fn whole_responses_parse_text_calls_usage_and_stop_reason() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"call_a","type":"function","function":{"name":"ls","arguments":"{\"path\":\".\"}"}},
            {"id":"","type":"function","function":{"name":"pwd","arguments":{"x":1}}}]},
            "finish_reason":"stop"}],
            "usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        let answer = parse_response(body).unwrap();
        assert_eq!(answer.text, "");
        assert_eq!(answer.stop_reason, StopReason::ToolUse);
        assert_eq!(
            answer.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 5,
                cached_tokens: 4,
                cache_creation_tokens: 0
            }
        );
        assert_eq!(
            answer.tool_calls[0],
            ToolCall {
                id: "call_a".into(),
                name: "ls".into(),
                arguments: r#"{"path":"."}"#.into()
            }
        );
        assert_eq!(
            answer.tool_calls[1],
            ToolCall {
                id: "call_1".into(),
                name: "pwd".into(),
                arguments: r#"{"x":1}"#.into()
            }
        );

        let body = br#"{"choices":[{"message":{"content":"Hi"},"finish_reason":"length"}]}"#;
        let answer = parse_response(body).unwrap();
        assert_eq!(
            (answer.text.as_str(), answer.stop_reason),
            ("Hi", StopReason::MaxTokens)
        );
    }

    #[test]
    fn whole_responses_report_errors_and_garbage() {
        let overloaded = parse_response(br#"{"error":{"message":"Server overloaded","code":503}}"#);
        assert_eq!(
            overloaded,
            Err(WireError::Reported {
                message: "Server overloaded".into(),
                retryable: true
            })
        );
        assert!(matches!(
            parse_response(b"<html>"),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            parse_response(b"{}"),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn api_keys_go_in_a_bearer_header_only_when_set() {
        let headers = OpenAiWire.headers(Some("sk-test")).unwrap();
        assert_eq!(headers[AUTHORIZATION], "Bearer sk-test");
        assert!(OpenAiWire.headers(None).unwrap().is_empty());
        assert!(OpenAiWire.headers(Some("")).unwrap().is_empty());
        assert!(OpenAiWire.headers(Some("sk\n")).is_err());
        assert_eq!(
            OpenAiWire.endpoint_url("http://localhost:11434/v1/"),
            "http://localhost:11434/v1/chat/completions"
        );
    }
}
