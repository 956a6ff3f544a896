//! Anthropic Messages on the wire: the request body (alternating roles, tool results as
//! user content blocks, a cached system prompt), the SSE event decoder and the
//! non-streaming response.

use std::collections::HashMap;

use hearth_protocol::{
    Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolCall, Usage,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

use crate::error::{error_object_is_retryable, error_object_message};
use crate::limits::{OutputMeter, ResponseLimits};
use crate::sse::SseEvent;
use crate::transport::{json_payloads, StreamDecoder, WireError, WireFormat};
use crate::ProviderKind;

/// The Messages API version this crate speaks.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Anthropic accepts at most four `cache_control` breakpoints per request; Hearth uses
/// two: the system block (which also covers the tools before it) and the last block of
/// the latest message, so each step of a loop reads the whole earlier history from the
/// cache instead of paying for it again.
pub(crate) const MAX_CACHE_BREAKPOINTS: usize = 4;
/// The breakpoints [`request_body`] sets: the system block and the latest message.
const CACHE_BREAKPOINTS_USED: usize = 2;
const _: () = assert!(CACHE_BREAKPOINTS_USED <= MAX_CACHE_BREAKPOINTS);

pub(crate) struct AnthropicWire;

impl WireFormat for AnthropicWire {
    type Decoder = AnthropicStreamDecoder;

    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    /// `{base}/v1/messages`; a base that already ends in `/v1` is not doubled.
    fn endpoint_url(&self, base_url: &str) -> String {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        format!("{base}/v1/messages")
    }

    fn headers(&self, api_key: Option<&str>) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        if let Some(key) = api_key.filter(|key| !key.is_empty()) {
            let mut value = HeaderValue::from_str(key).map_err(|_| {
                "api_key contains characters that cannot go in an HTTP header (a stray newline?)"
                    .to_string()
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static("x-api-key"), value);
        }
        Ok(headers)
    }

    fn request_body(&self, request: &ModelRequest) -> Value {
        request_body(request)
    }

    fn new_decoder(&self, limits: ResponseLimits) -> AnthropicStreamDecoder {
        AnthropicStreamDecoder {
            meter: OutputMeter::new(limits),
            ..AnthropicStreamDecoder::default()
        }
    }

    fn parse_response(&self, body: &[u8]) -> Result<ModelResponse, WireError> {
        parse_response(body)
    }

    fn terminator(&self) -> &'static str {
        "event: message_stop"
    }
}

pub(crate) fn request_body(request: &ModelRequest) -> Value {
    let mut messages = wire_messages(&request.messages);
    mark_cache_breakpoint(&mut messages);
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": messages,
        "stream": request.stream,
    });
    if !request.system.is_empty() {
        body["system"] = json!([{
            "type": "text",
            "text": request.system,
            "cache_control": {"type": "ephemeral"},
        }]);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    body
}

/// Messages as content blocks. Roles must alternate, so blocks of consecutive messages
/// with the same wire role (tool results then user text) merge into one message.
fn wire_messages(messages: &[Message]) -> Vec<Value> {
    let mut merged: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message {
            Message::User { text, .. } => ("user", vec![json!({"type": "text", "text": text})]),
            Message::Assistant {
                text, tool_calls, ..
            } => {
                let mut blocks = Vec::with_capacity(tool_calls.len() + 1);
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                blocks.extend(tool_calls.iter().map(|call| {
                    json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": arguments_object(&call.arguments),
                    })
                }));
                ("assistant", blocks)
            }
            Message::Tool(result) => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": result.call_id,
                    "content": result.content,
                    "is_error": result.is_error,
                })],
            ),
        };
        if blocks.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => merged.push((role, blocks)),
        }
    }
    merged
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

/// Puts an ephemeral `cache_control` on the last content block of the latest message:
/// the next request (the same history plus one step) then reads everything up to here
/// from the cache. Haiku 4.5 and Opus 4.5+ cache only prefixes of 4,096 tokens or more.
fn mark_cache_breakpoint(messages: &mut [Value]) {
    let last_block = messages
        .last_mut()
        .and_then(|message| message["content"].as_array_mut())
        .and_then(|blocks| blocks.last_mut());
    if let Some(Value::Object(block)) = last_block {
        block.insert("cache_control".into(), json!({"type": "ephemeral"}));
    }
}

/// A call's arguments as the JSON object Anthropic requires; `{}` when the model
/// produced something that is not an object (the loop already reported that error).
fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(object)) => Value::Object(object),
        _ => Value::Object(Map::new()),
    }
}

fn stop_reason(wire: Option<&str>) -> StopReason {
    match wire {
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("refusal") => StopReason::Refusal,
        Some("model_context_window_exceeded") => StopReason::ContextWindowExceeded,
        _ => StopReason::EndTurn,
    }
}

/// The answer's stop reason: a refusal or a context overflow wins over tool calls the
/// answer began (they are not run), otherwise any tool call means `ToolUse`.
fn answer_stop_reason(wire: Option<&str>, has_tool_calls: bool) -> StopReason {
    let reason = stop_reason(wire);
    if reason.is_provider_stop() || !has_tool_calls {
        reason
    } else {
        StopReason::ToolUse
    }
}

fn reported_error(error: &Value) -> WireError {
    WireError::Reported {
        message: error_object_message(error),
        retryable: error_object_is_retryable(error),
    }
}

/// Reads the usage fields present in `wire` into `usage`, leaving absent ones alone
/// (`message_delta` repeats only some of them).
fn update_usage(usage: &mut Usage, wire: &Value) {
    if let Some(input) = wire["input_tokens"].as_u64() {
        usage.input_tokens = input;
    }
    if let Some(output) = wire["output_tokens"].as_u64() {
        usage.output_tokens = output;
    }
    if let Some(cached) = wire["cache_read_input_tokens"].as_u64() {
        usage.cached_tokens = cached;
    }
    if let Some(written) = wire["cache_creation_input_tokens"].as_u64() {
        usage.cache_creation_tokens = written;
    }
}

#[derive(Debug, Default)]
struct PartialToolUse {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Debug, Default)]
pub(crate) struct AnthropicStreamDecoder {
    text: String,
    calls: Vec<PartialToolUse>,
    /// Content block index to position in `calls`, for tool_use blocks only.
    call_by_block: HashMap<u64, usize>,
    usage: Usage,
    stop_reason: Option<String>,
    done: bool,
    /// Stops the answer at the first byte or call over the limits.
    meter: OutputMeter,
}

impl AnthropicStreamDecoder {
    fn on_message(
        &mut self,
        value: &Value,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        match value["type"].as_str().unwrap_or_default() {
            "message_start" => update_usage(&mut self.usage, &value["message"]["usage"]),
            "content_block_start" => self.on_block_start(value, emit)?,
            "content_block_delta" => self.on_block_delta(value, emit)?,
            "content_block_stop" => {
                if let Some(&slot) = value["index"]
                    .as_u64()
                    .and_then(|block| self.call_by_block.get(&block))
                {
                    fill_empty_arguments(slot, &mut self.calls[slot], emit);
                }
            }
            "message_delta" => {
                if let Some(reason) = value["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_string());
                }
                update_usage(&mut self.usage, &value["usage"]);
            }
            "message_stop" => self.done = true,
            "error" => return Err(reported_error(&value["error"])),
            // "ping" and event types added after this was written.
            _ => {}
        }
        Ok(())
    }

    fn on_block_start(
        &mut self,
        value: &Value,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let block = &value["content_block"];
        match block["type"].as_str() {
            Some("text") => {
                if let Some(text) = block["text"].as_str().filter(|text| !text.is_empty()) {
                    self.meter.add_text(text.len())?;
                    self.text.push_str(text);
                    emit(StreamEvent::TextDelta(text.to_string()));
                }
            }
            Some("tool_use") => {
                let slot = self.calls.len();
                self.meter.add_call(slot + 1)?;
                let id = block["id"].as_str().filter(|id| !id.is_empty());
                let name = block["name"].as_str().unwrap_or_default();
                self.meter
                    .add_label(id.map_or(0, str::len).saturating_add(name.len()))?;
                let call = PartialToolUse {
                    id: id.map_or_else(|| format!("call_{slot}"), str::to_string),
                    name: name.to_string(),
                    arguments: String::new(),
                };
                emit(StreamEvent::ToolCallStart {
                    index: slot,
                    id: call.id.clone(),
                    name: call.name.clone(),
                });
                self.calls.push(call);
                if let Some(block_index) = value["index"].as_u64() {
                    self.call_by_block.insert(block_index, slot);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn on_block_delta(
        &mut self,
        value: &Value,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        let delta = &value["delta"];
        match delta["type"].as_str() {
            Some("text_delta") => {
                if let Some(text) = delta["text"].as_str().filter(|text| !text.is_empty()) {
                    self.meter.add_text(text.len())?;
                    self.text.push_str(text);
                    emit(StreamEvent::TextDelta(text.to_string()));
                }
            }
            Some("input_json_delta") => {
                let slot = value["index"]
                    .as_u64()
                    .and_then(|block| self.call_by_block.get(&block));
                let fragment = delta["partial_json"].as_str().unwrap_or_default();
                if let (Some(&slot), false) = (slot, fragment.is_empty()) {
                    let arguments = &mut self.calls[slot].arguments;
                    self.meter.add_arguments(
                        arguments.len().saturating_add(fragment.len()),
                        fragment.len(),
                    )?;
                    arguments.push_str(fragment);
                    emit(StreamEvent::ToolCallArgs {
                        index: slot,
                        fragment: fragment.to_string(),
                    });
                }
            }
            // thinking_delta, signature_delta, citations: not part of the answer.
            _ => {}
        }
        Ok(())
    }
}

/// A tool_use with no input deltas takes no arguments: `{}`.
fn fill_empty_arguments(slot: usize, call: &mut PartialToolUse, emit: &mut dyn FnMut(StreamEvent)) {
    if call.arguments.is_empty() {
        call.arguments = "{}".to_string();
        emit(StreamEvent::ToolCallArgs {
            index: slot,
            fragment: call.arguments.clone(),
        });
    }
}

impl StreamDecoder for AnthropicStreamDecoder {
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError> {
        if event.data.trim().is_empty() {
            return Ok(());
        }
        for value in json_payloads(&event.data)? {
            self.on_message(&value, emit)?;
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.done
    }

    /// Anthropic's `ping` events keep a connection alive; they are not progress.
    fn is_keep_alive(&self, event: &SseEvent) -> bool {
        event.event.as_deref() == Some("ping")
            || (event.data.len() < 64
                && serde_json::from_str::<Value>(&event.data)
                    .is_ok_and(|value| value["type"] == "ping"))
    }

    fn finish(mut self, emit: &mut dyn FnMut(StreamEvent)) -> ModelResponse {
        for (slot, call) in self.calls.iter_mut().enumerate() {
            fill_empty_arguments(slot, call, emit);
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
        let stop_reason = answer_stop_reason(self.stop_reason.as_deref(), !tool_calls.is_empty());
        ModelResponse {
            text: self.text,
            tool_calls,
            usage: self.usage,
            stop_reason,
            provider_state: None,
        }
    }
}

/// A whole non-streaming Messages response.
pub(crate) fn parse_response(body: &[u8]) -> Result<ModelResponse, WireError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| WireError::Malformed(format!("the body is not JSON ({error})")))?;
    if value["type"] == "error" || value.get("error").is_some_and(|error| !error.is_null()) {
        return Err(reported_error(&value["error"]));
    }
    let Some(blocks) = value["content"].as_array() else {
        return Err(WireError::Malformed(
            "the response has no content array".to_string(),
        ));
    };
    let mut answer = ModelResponse::default();
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => answer
                .text
                .push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => {
                let position = answer.tool_calls.len();
                answer.tool_calls.push(ToolCall {
                    id: block["id"]
                        .as_str()
                        .filter(|id| !id.is_empty())
                        .map_or_else(|| format!("call_{position}"), str::to_string),
                    name: block["name"].as_str().unwrap_or_default().to_string(),
                    arguments: match &block["input"] {
                        Value::Null => "{}".to_string(),
                        input => input.to_string(),
                    },
                });
            }
            _ => {}
        }
    }
    update_usage(&mut answer.usage, &value["usage"]);
    answer.stop_reason =
        answer_stop_reason(value["stop_reason"].as_str(), !answer.tool_calls.is_empty());
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolResult, ToolSpec};

    #[test]
    fn request_body_matches_golden_json_with_merged_user_turns() {
        let first = ToolCall {
            id: "toolu_1".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"a.txt"}"#.into(),
        };
        let broken = ToolCall {
            id: "toolu_2".into(),
            name: "ls".into(),
            arguments: r#"{"path":"#.into(),
        };
        let request = ModelRequest {
            model: "claude-sonnet-4-5".into(),
            system: "You are Hearth.".into(),
            messages: vec![
                Message::user("read a.txt and list"),
                Message::assistant("Reading.", vec![first.clone(), broken.clone()]),
                Message::Tool(ToolResult::ok(&first, "hello")),
                Message::Tool(ToolResult::error(&broken, "arguments are not valid JSON")),
                Message::user("also, hurry"),
                Message::assistant("Done.", vec![]),
            ],
            tools: vec![ToolSpec {
                name: "read_file".into(),
                description: "Read a file".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 2048,
            stream: true,
        };
        let expected = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 2048,
            "system": [{"type": "text", "text": "You are Hearth.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "read a.txt and list"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Reading."},
                    {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.txt"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "ls", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello", "is_error": false},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "arguments are not valid JSON", "is_error": true},
                    {"type": "text", "text": "also, hurry"}
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Done.", "cache_control": {"type": "ephemeral"}}
                ]}
            ],
            "tools": [{"name": "read_file", "description": "Read a file", "input_schema": {"type": "object"}}],
            "stream": true
        });
        assert_eq!(request_body(&request), expected);
    }

    #[test]
    fn request_body_leaves_out_empty_system_tools_and_empty_assistant_turns() {
        let request = ModelRequest {
            model: "m".into(),
            system: String::new(),
            messages: vec![
                Message::user("a"),
                Message::assistant("", vec![]),
                Message::user("b"),
            ],
            tools: vec![],
            max_tokens: 10,
            stream: false,
        };
        let expected = json!({
            "model": "m",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}
            ]}],
            "stream": false
        });
        assert_eq!(request_body(&request), expected);
    }

    #[test]
    fn whole_responses_parse_blocks_usage_and_stop_reason() {
        let body = br#"{"id":"msg_1","type":"message","role":"assistant","content":[
            {"type":"text","text":"Let me look."},
            {"type":"tool_use","id":"toolu_9","name":"ls","input":{"path":"."}}],
            "stop_reason":"tool_use",
            "usage":{"input_tokens":20,"output_tokens":7,"cache_read_input_tokens":100,"cache_creation_input_tokens":0}}"#;
        let answer = parse_response(body).unwrap();
        assert_eq!(answer.text, "Let me look.");
        assert_eq!(
            answer.tool_calls,
            vec![ToolCall {
                id: "toolu_9".into(),
                name: "ls".into(),
                arguments: r#"{"path":"."}"#.into()
            }]
        );
        assert_eq!(
            answer.usage,
            Usage {
                input_tokens: 20,
                output_tokens: 7,
                cached_tokens: 100,
                cache_creation_tokens: 0
            }
        );
        assert_eq!(answer.stop_reason, StopReason::ToolUse);

        let answer = parse_response(
            br#"{"content":[{"type":"text","text":"x"}],"stop_reason":"max_tokens"}"#,
        )
        .unwrap();
        assert_eq!(answer.stop_reason, StopReason::MaxTokens);
    }

    #[test]
    fn refusals_and_context_overflows_win_over_tool_calls() {
        let answer = parse_response(
            br#"{"content":[{"type":"text","text":"I can"},{"type":"tool_use","id":"t","name":"ls","input":{}}],
                "stop_reason":"refusal","usage":{"input_tokens":3,"output_tokens":2,"cache_creation_input_tokens":9}}"#,
        )
        .unwrap();
        assert_eq!(answer.stop_reason, StopReason::Refusal);
        assert_eq!(answer.usage.cache_creation_tokens, 9);
        let answer = parse_response(
            br#"{"content":[{"type":"text","text":"x"}],"stop_reason":"model_context_window_exceeded"}"#,
        )
        .unwrap();
        assert_eq!(answer.stop_reason, StopReason::ContextWindowExceeded);
    }

    #[test]
    fn a_request_never_carries_more_cache_breakpoints_than_anthropic_allows() {
        let call = ToolCall {
            id: "t1".into(),
            name: "ls".into(),
            arguments: "{}".into(),
        };
        let mut messages = Vec::new();
        for step in 0..30 {
            messages.push(Message::user(format!("step {step}")));
            messages.push(Message::assistant("", vec![call.clone()]));
            messages.push(Message::Tool(ToolResult::ok(&call, "ok")));
        }
        let request = ModelRequest {
            model: "m".into(),
            system: "sys".into(),
            messages,
            tools: vec![],
            max_tokens: 10,
            stream: true,
        };
        let body = request_body(&request).to_string();
        let breakpoints = body.matches("cache_control").count();
        assert_eq!(breakpoints, CACHE_BREAKPOINTS_USED, "{body}");
        assert!(breakpoints <= MAX_CACHE_BREAKPOINTS);
    }

    #[test]
    fn whole_responses_report_errors() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(
            parse_response(body),
            Err(WireError::Reported {
                message: "Overloaded".into(),
                retryable: true
            })
        );
        assert!(matches!(
            parse_response(b"{}"),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn pings_are_keep_alives_and_deltas_are_progress() {
        let decoder = AnthropicWire.new_decoder(ResponseLimits::default());
        let event = |name: Option<&str>, data: &str| SseEvent {
            event: name.map(str::to_string),
            data: data.to_string(),
        };
        assert!(decoder.is_keep_alive(&event(Some("ping"), r#"{"type": "ping"}"#)));
        assert!(decoder.is_keep_alive(&event(None, r#"{"type":"ping"}"#)));
        let delta =
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#;
        assert!(!decoder.is_keep_alive(&event(Some("content_block_delta"), delta)));
    }

    #[test]
    fn headers_carry_key_and_version_and_urls_do_not_double_v1() {
        let headers = AnthropicWire.headers(Some("sk-ant")).unwrap();
        assert_eq!(headers["x-api-key"], "sk-ant");
        assert_eq!(headers["anthropic-version"], ANTHROPIC_VERSION);
        for base in [
            "https://api.anthropic.com",
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1",
        ] {
            assert_eq!(
                AnthropicWire.endpoint_url(base),
                "https://api.anthropic.com/v1/messages"
            );
        }
    }
}
