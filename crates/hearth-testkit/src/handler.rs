//! Request handlers: record the request, take the next step, and answer it in the
//! wire format of the request's path, streamed or not as its `"stream"` flag asks.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::answer::{Answer, ReplyContext};
use crate::flood::{keep_alive_body, repeated_body, split_at_marker, RepeatedFrames};
use crate::provider_stop::{self, StoppedReply};
use crate::script::Step;
use crate::server::{NextStep, RecordedRequest, Shared, Wire};
use crate::stream::{paced_body, PacedFrames, StreamEnding};
use crate::{anthropic, openai};

/// The model name echoed back when the request names none.
const DEFAULT_MODEL: &str = "scripted-model";

/// A text flood's delta size when its step gives none.
const DEFAULT_FLOOD_PIECE_BYTES: u64 = 1024;

/// Stands in for a flood's text in a serialized body, which is split around it.
const FLOOD_MARKER: &str = "HEARTH_SCRIPTED_TEXT_FLOOD";

/// `POST /v1/chat/completions` and `POST /chat/completions`.
pub(crate) async fn openai(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&shared, Wire::OpenAi, uri.path(), &headers, &body).await
}

/// `POST /v1/messages`.
pub(crate) async fn anthropic(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(&shared, Wire::Anthropic, uri.path(), &headers, &body).await
}

/// Any other method or path: a 404 that lists what is served. Not recorded.
pub(crate) async fn no_route(method: Method, uri: Uri) -> Response {
    let message = format!(
        "scripted server: no route for {method} {}; it serves POST /v1/chat/completions, \
         POST /chat/completions (OpenAI) and POST /v1/messages (Anthropic)",
        uri.path()
    );
    error_response(Wire::OpenAi, 404, &message, None)
}

async fn respond(
    shared: &Shared,
    wire: Wire,
    path: &str,
    headers: &HeaderMap,
    raw_body: &[u8],
) -> Response {
    let parsed = serde_json::from_slice::<Value>(raw_body);
    let recorded_body = match &parsed {
        Ok(json) => json.clone(),
        Err(_) => Value::String(String::from_utf8_lossy(raw_body).into_owned()),
    };
    let request = RecordedRequest {
        path: path.to_string(),
        headers: record_headers(headers),
        body: recorded_body,
        wire,
    };
    let body = match parsed {
        Ok(body) => body,
        Err(error) => {
            shared.record(request);
            let message = format!(
                "scripted server: request body is not valid JSON ({error}); send a JSON \
                 object (the request was recorded but took no script step)"
            );
            return error_response(wire, 400, &message, None);
        }
    };
    if wire == Wire::OpenAi {
        if let Some(refusal) = shared.personality.refuse(&body) {
            shared.record(request);
            let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST);
            return (status, axum::Json(refusal.body)).into_response();
        }
    }
    let (step, number) = match shared.record_and_take_step(request) {
        NextStep::Step { step, number } => (step, number),
        NextStep::Exhausted { total_steps } => {
            let message = format!("scripted server: script exhausted after {total_steps} steps");
            return error_response(wire, 400, &message, None);
        }
    };
    let context = reply_context(&body, number, raw_body.len(), shared.personality);
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    answer_step(shared, wire, step, stream, &context).await
}

/// Answers one step after its delay; shutdown during the delay or a hang gets a 503.
async fn answer_step(
    shared: &Shared,
    wire: Wire,
    step: Step,
    stream: bool,
    context: &ReplyContext,
) -> Response {
    let delay_ms = match &step {
        Step::Text { delay_ms, .. }
        | Step::ToolCalls { delay_ms, .. }
        | Step::HttpError { delay_ms, .. }
        | Step::DropMidStream { delay_ms, .. } => *delay_ms,
        Step::Hang { .. }
        | Step::StreamError { .. }
        | Step::ToolCallsCutOff { .. }
        | Step::ProviderStop { .. }
        | Step::TextFlood { .. }
        | Step::UnterminatedLine { .. }
        | Step::KeepAliveOnly { .. } => 0,
    };
    if delay_ms > 0 && !wait_unless_stopped(shared, Duration::from_millis(delay_ms)).await {
        return shutting_down(wire);
    }
    match step {
        Step::Text {
            text,
            usage,
            chunk_delay_ms,
            ..
        } => {
            let answer = Answer::new(&text, &[], usage, context);
            answer_response(shared, wire, &answer, stream, chunk_delay_ms, context)
        }
        Step::ToolCalls {
            text,
            calls,
            usage,
            chunk_delay_ms,
            ..
        } => {
            let answer = Answer::new(&text, &calls, usage, context);
            answer_response(shared, wire, &answer, stream, chunk_delay_ms, context)
        }
        Step::HttpError {
            status,
            message,
            retry_after,
            ..
        } => match (wire, context.personality.error_body(status, &message)) {
            (Wire::OpenAi, Some(body)) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                (status, axum::Json(body)).into_response()
            }
            _ => error_response(wire, status, &message, retry_after),
        },
        Step::ToolCallsCutOff { text, calls } => {
            let mut answer = Answer::new(&text, &calls, None, context);
            answer.cut_off = true;
            answer_response(shared, wire, &answer, stream, 0, context)
        }
        Step::StreamError { text, message } => {
            if !stream {
                let json = match wire {
                    Wire::OpenAi => openai::error_json(500, &message),
                    Wire::Anthropic => anthropic::error_json(500, &message),
                };
                return (request_id_header(wire, context), axum::Json(json)).into_response();
            }
            let mut frames = partial_text_frames(wire, &text, context);
            match wire {
                Wire::OpenAi => frames.extend(openai::stream_error_frames(&message, context)),
                Wire::Anthropic => frames.extend(anthropic::stream_error_frames(&message)),
            }
            let plan = PacedFrames {
                frames,
                chunk_delay: Duration::ZERO,
                ending: StreamEnding::Complete,
            };
            paced_response(shared, wire, plan, stream, context)
        }
        Step::ProviderStop { text, stop } => {
            match provider_stop::stopped_reply(wire, &text, stop, stream, context) {
                StoppedReply::Whole(json) => {
                    (request_id_header(wire, context), axum::Json(json)).into_response()
                }
                StoppedReply::Frames(frames) => {
                    let plan = PacedFrames {
                        frames,
                        chunk_delay: Duration::ZERO,
                        ending: StreamEnding::Complete,
                    };
                    paced_response(shared, wire, plan, stream, context)
                }
            }
        }
        Step::DropMidStream {
            text,
            chunk_delay_ms,
            ..
        } => {
            let frames = if stream {
                partial_text_frames(wire, &text, context)
            } else {
                Vec::new()
            };
            let plan = PacedFrames {
                frames,
                chunk_delay: Duration::from_millis(chunk_delay_ms),
                ending: StreamEnding::Drop,
            };
            paced_response(shared, wire, plan, stream, context)
        }
        Step::Hang { text } => {
            if stream && !text.is_empty() {
                let plan = PacedFrames {
                    frames: partial_text_frames(wire, &text, context),
                    chunk_delay: Duration::ZERO,
                    ending: StreamEnding::Stall,
                };
                return paced_response(shared, wire, plan, stream, context);
            }
            shared.stop.cancelled().await;
            shutting_down(wire)
        }
        Step::TextFlood { bytes, piece_bytes } => {
            let piece_bytes = if piece_bytes == 0 {
                DEFAULT_FLOOD_PIECE_BYTES
            } else {
                piece_bytes
            };
            let plan = if stream {
                streamed_flood(wire, bytes, piece_bytes, context)
            } else {
                whole_flood(wire, bytes, piece_bytes, context)
            };
            let body = repeated_body(plan, shared.stop.clone());
            body_response(wire, body, stream, context)
        }
        Step::UnterminatedLine { bytes } => {
            let piece = DEFAULT_FLOOD_PIECE_BYTES.min(bytes.max(1));
            let plan = RepeatedFrames {
                prefix: vec![Bytes::from_static(b"data: ")],
                repeated: letters(piece),
                times: bytes / piece,
                tail: vec![letters(bytes % piece)],
                stall: true,
            };
            body_response(
                wire,
                repeated_body(plan, shared.stop.clone()),
                true,
                context,
            )
        }
        Step::KeepAliveOnly { interval_ms } => {
            let interval = Duration::from_millis(interval_ms.max(1));
            let body = keep_alive_body(interval, shared.stop.clone());
            body_response(wire, body, true, context)
        }
    }
}

/// `count` bytes of the letter `a`.
fn letters(count: u64) -> Bytes {
    Bytes::from(vec![b'a'; usize::try_from(count).unwrap_or(0)])
}

/// A complete streamed answer whose text is `bytes` letters in deltas of `piece_bytes`.
fn streamed_flood(
    wire: Wire,
    bytes: u64,
    piece_bytes: u64,
    context: &ReplyContext,
) -> RepeatedFrames {
    let prefix = partial_text_frames(wire, "", context);
    let empty = Answer::new("", &[], None, context);
    let complete = match wire {
        Wire::OpenAi => openai::stream_frames(&empty, context),
        Wire::Anthropic => anthropic::stream_frames(&empty, context),
    };
    let delta_frame = |count: u64| {
        let text = String::from_utf8_lossy(&letters(count)).into_owned();
        partial_text_frames(wire, &text, context)
            .pop()
            .unwrap_or_default()
    };
    let mut tail = Vec::new();
    if !bytes.is_multiple_of(piece_bytes) {
        tail.push(delta_frame(bytes % piece_bytes));
    }
    tail.extend(complete.into_iter().skip(prefix.len()));
    RepeatedFrames {
        repeated: delta_frame(piece_bytes),
        times: bytes / piece_bytes,
        prefix,
        tail,
        stall: false,
    }
}

/// One whole JSON answer whose text is `bytes` letters.
fn whole_flood(wire: Wire, bytes: u64, piece_bytes: u64, context: &ReplyContext) -> RepeatedFrames {
    let answer = Answer::new(FLOOD_MARKER, &[], None, context);
    let json = match wire {
        Wire::OpenAi => openai::completion_json(&answer, context),
        Wire::Anthropic => anthropic::message_json(&answer, context),
    };
    let (before, after) = split_at_marker(&json.to_string(), FLOOD_MARKER).unwrap_or_default();
    RepeatedFrames {
        prefix: vec![before],
        repeated: letters(piece_bytes),
        times: bytes / piece_bytes,
        tail: vec![letters(bytes % piece_bytes), after],
        stall: false,
    }
}

/// A complete answer: one JSON body, or an event stream that ends normally.
fn answer_response(
    shared: &Shared,
    wire: Wire,
    answer: &Answer<'_>,
    stream: bool,
    chunk_delay_ms: u64,
    context: &ReplyContext,
) -> Response {
    if !stream {
        let json = match wire {
            Wire::OpenAi => openai::completion_json(answer, context),
            Wire::Anthropic => anthropic::message_json(answer, context),
        };
        return (request_id_header(wire, context), axum::Json(json)).into_response();
    }
    let frames = match wire {
        Wire::OpenAi => openai::stream_frames(answer, context),
        Wire::Anthropic => anthropic::stream_frames(answer, context),
    };
    let plan = PacedFrames {
        frames,
        chunk_delay: Duration::from_millis(chunk_delay_ms),
        ending: StreamEnding::Complete,
    };
    paced_response(shared, wire, plan, true, context)
}

/// A 200 whose body is paced frames: `text/event-stream` when streaming, otherwise
/// `application/json` (used for a non-streaming request that is dropped).
fn paced_response(
    shared: &Shared,
    wire: Wire,
    plan: PacedFrames,
    stream: bool,
    context: &ReplyContext,
) -> Response {
    let body = paced_body(plan, shared.stop.clone());
    body_response(wire, body, stream, context)
}

/// A 200 with `body`: `text/event-stream` when streaming, otherwise `application/json`.
fn body_response(
    wire: Wire,
    body: axum::body::Body,
    stream: bool,
    context: &ReplyContext,
) -> Response {
    let content_type = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (request_id_header(wire, context), headers, body).into_response()
}

fn partial_text_frames(wire: Wire, text: &str, context: &ReplyContext) -> Vec<Bytes> {
    match wire {
        Wire::OpenAi => openai::text_frames(text, context),
        Wire::Anthropic => {
            let answer = Answer::new(text, &[], None, context);
            anthropic::partial_text_frames(text, &answer, context)
        }
    }
}

/// A provider-shaped error with `status` and, if given, `retry-after` seconds.
fn error_response(wire: Wire, status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let json = match wire {
        Wire::OpenAi => openai::error_json(status, message),
        Wire::Anthropic => anthropic::error_json(status, message),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut headers = HeaderMap::new();
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    (status, headers, axum::Json(json)).into_response()
}

fn shutting_down(wire: Wire) -> Response {
    let message = "scripted server: shutting down before this step was answered";
    error_response(wire, 503, message, None)
}

/// Waits `duration`; false if the server began shutting down first.
async fn wait_unless_stopped(shared: &Shared, duration: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(duration) => true,
        _ = shared.stop.cancelled() => false,
    }
}

/// `x-request-id` (OpenAI) or `request-id` (Anthropic), as the providers send them.
fn request_id_header(wire: Wire, context: &ReplyContext) -> HeaderMap {
    let name = match wire {
        Wire::OpenAi => "x-request-id",
        Wire::Anthropic => "request-id",
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("req_scripted_{}", context.number)) {
        headers.insert(name, value);
    }
    headers
}

fn reply_context(
    body: &Value,
    number: usize,
    request_bytes: usize,
    personality: crate::Personality,
) -> ReplyContext {
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    ReplyContext {
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_MODEL)
            .to_string(),
        number,
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0),
        include_usage,
        request_bytes,
        personality,
    }
}

fn record_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect()
}
