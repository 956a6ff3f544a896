//! The OpenAI Chat Completions wire format: `chat.completion` objects, streamed
//! `chat.completion.chunk` events ending in `data: [DONE]`, and `{"error": ...}` bodies.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::answer::{Answer, ReplyContext};
use crate::script::ScriptedCall;
use crate::stream::{data_frame, split_fragments, split_words};

/// A non-streaming `chat.completion` response body.
pub(crate) fn completion_json(answer: &Answer<'_>, context: &ReplyContext) -> Value {
    let content = if answer.text.is_empty() && !answer.calls.is_empty() {
        Value::Null
    } else {
        Value::from(answer.text)
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
    if !answer.calls.is_empty() {
        let calls: Vec<Value> = answer.calls.iter().map(tool_call_json).collect();
        message["tool_calls"] = Value::Array(calls);
    }
    context
        .personality
        .decorate_message(&mut message, first_call_id(answer));
    json!({
        "id": response_id(context),
        "object": "chat.completion",
        "created": context.created,
        "model": context.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(answer),
        }],
        "usage": usage_json(answer),
    })
}

/// Every frame of a complete streamed answer, through `data: [DONE]`.
pub(crate) fn stream_frames(answer: &Answer<'_>, context: &ReplyContext) -> Vec<Bytes> {
    let mut frames: Vec<Bytes> = context
        .personality
        .reasoning_deltas(first_call_id(answer))
        .into_iter()
        .map(|delta| data_frame(&chunk_json(context, delta, None)))
        .collect();
    if !answer.text.is_empty() || answer.calls.is_empty() {
        frames.extend(text_frames(answer.text, context));
    }
    for (index, call) in answer.calls.iter().enumerate() {
        let opens_message = index == 0 && answer.text.is_empty();
        frames.extend(tool_call_frames(index, call, opens_message, context));
    }
    let finish = Some(finish_reason(answer));
    frames.push(data_frame(&chunk_json(context, json!({}), finish)));
    if context.include_usage {
        let mut usage_chunk = chunk_json(context, json!({}), None);
        usage_chunk["choices"] = json!([]);
        usage_chunk["usage"] = usage_json(answer);
        frames.push(data_frame(&usage_chunk));
    }
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

/// The opening chunk (with `role`) and one chunk per word of `text`, nothing after:
/// the start of an answer that is then dropped or stalled.
pub(crate) fn text_frames(text: &str, context: &ReplyContext) -> Vec<Bytes> {
    let opening = json!({"role": "assistant", "content": "", "refusal": null});
    let mut frames = vec![data_frame(&chunk_json(context, opening, None))];
    for word in split_words(text) {
        let delta = json!({"content": word});
        frames.push(data_frame(&chunk_json(context, delta, None)));
    }
    frames
}

/// How the server's personality reports `message` after a stream began: its frames,
/// then `data: [DONE]` unless the personality just closes the connection.
pub(crate) fn stream_error_frames(message: &str, context: &ReplyContext) -> Vec<Bytes> {
    let chunk = |delta: Value, finish: Option<&str>| chunk_json(context, delta, finish);
    let (mut frames, done) = context.personality.stream_error_frames(message, chunk);
    if done {
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    frames
}

fn first_call_id<'a>(answer: &Answer<'a>) -> Option<&'a str> {
    answer.calls.first().map(|call| call.id.as_str())
}

/// A provider-shaped error body for `status`.
pub(crate) fn error_json(status: u16, message: &str) -> Value {
    let (error_type, code) = match status {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => (
            "invalid_request_error",
            json!("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": error_type, "param": null, "code": code}})
}

/// The first chunk names the call (empty arguments), then 2–3 chunks carry only
/// `index` and an argument fragment. The first call of a text-less answer also
/// carries the message's `role`, as OpenAI sends it.
fn tool_call_frames(
    index: usize,
    call: &ScriptedCall,
    opens_message: bool,
    context: &ReplyContext,
) -> Vec<Bytes> {
    let start = json!({
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": ""},
    });
    let mut delta = json!({"tool_calls": [start]});
    if opens_message {
        delta["role"] = json!("assistant");
        delta["content"] = Value::Null;
    }
    let mut frames = vec![data_frame(&chunk_json(context, delta, None))];
    for fragment in split_fragments(&call.arguments) {
        let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
        frames.push(data_frame(&chunk_json(context, delta, None)));
    }
    frames
}

fn chunk_json(context: &ReplyContext, delta: Value, finish_reason: Option<&str>) -> Value {
    let mut chunk = json!({
        "id": response_id(context),
        "object": "chat.completion.chunk",
        "created": context.created,
        "model": context.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    });
    if context.include_usage {
        chunk["usage"] = Value::Null;
    }
    chunk
}

fn tool_call_json(call: &ScriptedCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    })
}

fn finish_reason(answer: &Answer<'_>) -> &'static str {
    if answer.cut_off {
        return "length";
    }
    if answer.calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

fn usage_json(answer: &Answer<'_>) -> Value {
    let usage = answer.usage;
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    })
}

fn response_id(context: &ReplyContext) -> String {
    format!("chatcmpl-scripted-{}", context.number)
}
