//! Answers the provider stops instead of the model finishing: a refusal, a content
//! filter, a context window overflow ([`Step::ProviderStop`](crate::Step)). Each kind
//! names the public documentation of the behaviour it copies.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::answer::{Answer, ReplyContext};
use crate::server::Wire;
use crate::stream::{data_frame, split_words};
use crate::{anthropic, openai};

/// How the provider stops the answer. Anthropic kinds shape Anthropic answers and
/// OpenAI kinds OpenAI answers; a kind asked over the other wire answers with the
/// nearest equivalent (a refusal is a refusal on both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// Anthropic docs, "Handling stop reasons" → `refusal` (Claude 4 models): the
    /// streaming classifiers stop the answer, which may already hold partial text,
    /// with `stop_reason: "refusal"`; the docs say to drop or rewrite the refused turn,
    /// or later requests keep being refused. OpenAI's wire gets a `refusal` delta.
    Refusal,
    /// Anthropic docs, "Handling stop reasons" → `model_context_window_exceeded`
    /// (Sonnet 4.5+): the answer stopped because the context window is full.
    ContextWindowExceeded,
    /// OpenAI API reference, chat completion object → `finish_reason:
    /// "content_filter"`: content was omitted by a content filter (Azure OpenAI too).
    ContentFilter,
}

/// A stopped answer: one JSON body, or the frames of a stream that ends normally.
pub(crate) enum StoppedReply {
    Whole(Value),
    Frames(Vec<Bytes>),
}

/// The answer `text` (partial) stopped as `kind` says, in `wire`'s format.
pub(crate) fn stopped_reply(
    wire: Wire,
    text: &str,
    kind: StopKind,
    stream: bool,
    context: &ReplyContext,
) -> StoppedReply {
    let answer = Answer::new(text, &[], None, context);
    match wire {
        Wire::Anthropic => {
            let reason = match kind {
                StopKind::Refusal | StopKind::ContentFilter => "refusal",
                StopKind::ContextWindowExceeded => "model_context_window_exceeded",
            };
            if stream {
                let frames = anthropic::stream_frames(&answer, context);
                StoppedReply::Frames(replace_in_frames(
                    frames,
                    r#""stop_reason":"end_turn""#,
                    &format!(r#""stop_reason":"{reason}""#),
                ))
            } else {
                let mut body = anthropic::message_json(&answer, context);
                body["stop_reason"] = json!(reason);
                StoppedReply::Whole(body)
            }
        }
        Wire::OpenAi => match kind {
            StopKind::Refusal => openai_refusal(text, &answer, stream, context),
            // OpenAI has no context-overflow stop (it answers 400 instead): a length stop.
            StopKind::ContentFilter | StopKind::ContextWindowExceeded => {
                let reason = match kind {
                    StopKind::ContentFilter => "content_filter",
                    _ => "length",
                };
                if stream {
                    let frames = openai::stream_frames(&answer, context);
                    StoppedReply::Frames(replace_in_frames(
                        frames,
                        r#""finish_reason":"stop""#,
                        &format!(r#""finish_reason":"{reason}""#),
                    ))
                } else {
                    let mut body = openai::completion_json(&answer, context);
                    body["choices"][0]["finish_reason"] = json!(reason);
                    StoppedReply::Whole(body)
                }
            }
        },
    }
}

/// OpenAI's structured-outputs refusal (API reference: `message.refusal`, streamed as
/// `delta.refusal`): the words arrive in `refusal`, `content` stays null.
fn openai_refusal(
    text: &str,
    answer: &Answer<'_>,
    stream: bool,
    context: &ReplyContext,
) -> StoppedReply {
    let empty = Answer::new("", &[], Some(answer.usage), context);
    if !stream {
        let mut body = openai::completion_json(&empty, context);
        body["choices"][0]["message"]["content"] = Value::Null;
        body["choices"][0]["message"]["refusal"] = json!(text);
        return StoppedReply::Whole(body);
    }
    let mut frames = openai::stream_frames(&empty, context);
    // The first frame opens the message ({"role":"assistant","content":"","refusal":null});
    // the refusal's words go right after it.
    let rest = frames.split_off(1.min(frames.len()));
    let template = rest.first().cloned().unwrap_or_default();
    for word in split_words(text) {
        let chunk = String::from_utf8_lossy(&template).into_owned();
        let json = chunk
            .strip_prefix("data: ")
            .and_then(|data| serde_json::from_str::<Value>(data.trim()).ok());
        if let Some(mut json) = json {
            json["choices"][0]["delta"] = json!({"refusal": word});
            json["choices"][0]["finish_reason"] = Value::Null;
            frames.push(data_frame(&json));
        }
    }
    frames.extend(rest);
    StoppedReply::Frames(frames)
}

fn replace_in_frames(frames: Vec<Bytes>, from: &str, to: &str) -> Vec<Bytes> {
    frames
        .into_iter()
        .map(|frame| {
            let text = String::from_utf8_lossy(&frame);
            if text.contains(from) {
                Bytes::from(text.replace(from, to))
            } else {
                frame
            }
        })
        .collect()
}
