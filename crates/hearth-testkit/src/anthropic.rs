//! The Anthropic Messages wire format: `message` objects, the named SSE events from
//! `message_start` to `message_stop`, and `{"type": "error", ...}` bodies.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::answer::{Answer, ReplyContext};
use crate::script::ScriptedCall;
use crate::stream::{event_frame, split_fragments, split_words};

/// A non-streaming `message` response body. A tool call's `input` is its scripted
/// arguments parsed as JSON, or `{}` when they are not valid JSON (the non-streaming
/// API has no way to carry broken JSON; use a streaming request to deliver it).
pub(crate) fn message_json(answer: &Answer<'_>, context: &ReplyContext) -> Value {
    let mut content = Vec::new();
    if !answer.text.is_empty() || answer.calls.is_empty() {
        content.push(json!({"type": "text", "text": answer.text}));
    }
    for call in answer.calls {
        let input = serde_json::from_str::<Value>(&call.arguments).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    json!({
        "id": message_id(context),
        "type": "message",
        "role": "assistant",
        "model": context.model,
        "content": content,
        "stop_reason": stop_reason(answer),
        "stop_sequence": null,
        "usage": {
            "input_tokens": answer.usage.input_tokens,
            "output_tokens": answer.usage.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": answer.usage.cached_tokens,
        },
    })
}

/// Every event of a complete streamed answer, through `message_stop`. Tool-call
/// arguments travel as raw `input_json_delta` fragments, valid JSON or not.
pub(crate) fn stream_frames(answer: &Answer<'_>, context: &ReplyContext) -> Vec<Bytes> {
    let mut frames = opening_frames(answer, context);
    let mut block_index = 0;
    if !answer.text.is_empty() || answer.calls.is_empty() {
        frames.extend(text_block_frames(answer.text, block_index));
        frames.push(block_stop(block_index));
        block_index += 1;
    }
    for call in answer.calls {
        frames.extend(tool_use_block_frames(call, block_index));
        block_index += 1;
    }
    let message_delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason(answer), "stop_sequence": null},
        "usage": {"output_tokens": answer.usage.output_tokens},
    });
    frames.push(event_frame("message_delta", &message_delta));
    frames.push(event_frame(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    frames
}

/// `message_start`, then an open text block with one delta per word of `text` and
/// nothing after: the start of an answer that is then dropped or stalled.
pub(crate) fn partial_text_frames(
    text: &str,
    answer: &Answer<'_>,
    context: &ReplyContext,
) -> Vec<Bytes> {
    let mut frames = opening_frames(answer, context);
    frames.extend(text_block_frames(text, 0));
    frames
}

/// A provider-shaped error body for `status`.
pub(crate) fn error_json(status: u16, message: &str) -> Value {
    let error_type = match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    };
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

/// Anthropic's way of failing after a stream began: an `error` event (then the stream
/// ends without `message_stop`).
pub(crate) fn stream_error_frames(message: &str) -> Vec<Bytes> {
    vec![event_frame("error", &error_json(500, message))]
}

fn opening_frames(answer: &Answer<'_>, context: &ReplyContext) -> Vec<Bytes> {
    let message_start = json!({
        "type": "message_start",
        "message": {
            "id": message_id(context),
            "type": "message",
            "role": "assistant",
            "model": context.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {
                "input_tokens": answer.usage.input_tokens,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": answer.usage.cached_tokens,
            },
        },
    });
    vec![event_frame("message_start", &message_start)]
}

/// `content_block_start` for a text block (followed by the `ping` Anthropic sends
/// after the first block opens) and one `text_delta` per word.
fn text_block_frames(text: &str, index: usize) -> Vec<Bytes> {
    let start = json!({
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "text", "text": ""},
    });
    let mut frames = vec![event_frame("content_block_start", &start)];
    if index == 0 {
        frames.push(ping());
    }
    for word in split_words(text) {
        let delta = json!({
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": word},
        });
        frames.push(event_frame("content_block_delta", &delta));
    }
    frames
}

/// A complete `tool_use` block: start with empty `input`, the empty first
/// `partial_json` Anthropic sends, 2–3 argument fragments, stop.
fn tool_use_block_frames(call: &ScriptedCall, index: usize) -> Vec<Bytes> {
    let start = json!({
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
    });
    let mut frames = vec![event_frame("content_block_start", &start)];
    if index == 0 {
        frames.push(ping());
    }
    let fragments = std::iter::once("").chain(split_fragments(&call.arguments));
    for fragment in fragments {
        let delta = json!({
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": fragment},
        });
        frames.push(event_frame("content_block_delta", &delta));
    }
    frames.push(block_stop(index));
    frames
}

fn block_stop(index: usize) -> Bytes {
    event_frame(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": index}),
    )
}

fn ping() -> Bytes {
    event_frame("ping", &json!({"type": "ping"}))
}

fn stop_reason(answer: &Answer<'_>) -> &'static str {
    if answer.cut_off {
        return "max_tokens";
    }
    if answer.calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn message_id(context: &ReplyContext) -> String {
    format!("msg_scripted_{}", context.number)
}
