//! Streaming plumbing shared by both wire formats: SSE framing, splitting text and
//! arguments into realistic pieces, and a paced response body that can finish
//! cleanly, drop the connection mid-stream or stall.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long a dropping stream pauses before aborting, so the frames already written
/// are flushed to the socket first (hyper discards unflushed output on a body error).
const FLUSH_BEFORE_DROP: Duration = Duration::from_millis(30);

/// How a streamed body ends after its last frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamEnding {
    /// The body ends normally (the terminating chunk is sent).
    Complete,
    /// The connection is aborted without a terminating chunk.
    Drop,
    /// The connection stays open and silent until the server shuts down.
    Stall,
}

/// The frames of one streamed answer and how to pace and end them.
pub(crate) struct PacedFrames {
    pub frames: Vec<Bytes>,
    pub chunk_delay: Duration,
    pub ending: StreamEnding,
}

struct BodyState {
    frames: VecDeque<Bytes>,
    chunk_delay: Duration,
    ending: Option<StreamEnding>,
    sent_first: bool,
    stop: CancellationToken,
}

/// `data: <json>\n\n`, the OpenAI framing.
pub(crate) fn data_frame(json: &Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n`, the Anthropic framing.
pub(crate) fn event_frame(name: &str, json: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {json}\n\n"))
}

/// Splits text into word-sized pieces that keep their leading whitespace, so the
/// pieces concatenate back to exactly `text`: "Hi there" -> ["Hi", " there"].
pub(crate) fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut previous_was_space = true;
    for (position, character) in text.char_indices() {
        let is_space = character.is_whitespace();
        if is_space && !previous_was_space && position > start {
            pieces.push(&text[start..position]);
            start = position;
        }
        previous_was_space = is_space;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Splits text into up to three pieces of similar length at character boundaries
/// (tool-call argument fragments); empty text gives no pieces.
pub(crate) fn split_fragments(text: &str) -> Vec<&str> {
    let boundaries: Vec<usize> = text.char_indices().map(|(index, _)| index).collect();
    let count = boundaries.len().min(3);
    if count == 0 {
        return Vec::new();
    }
    let mut pieces = Vec::with_capacity(count);
    let mut start = 0;
    for part in 1..count {
        let end = boundaries[boundaries.len() * part / count];
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces.push(&text[start..]);
    pieces
}

/// A response body that yields the frames one by one, waiting `chunk_delay` before
/// each frame after the first, then ends as planned. Shutdown (`stop`) aborts it.
pub(crate) fn paced_body(plan: PacedFrames, stop: CancellationToken) -> Body {
    let state = BodyState {
        frames: plan.frames.into(),
        chunk_delay: plan.chunk_delay,
        ending: Some(plan.ending),
        sent_first: false,
        stop,
    };
    Body::from_stream(futures_util::stream::unfold(state, next_body_item))
}

async fn next_body_item(
    mut state: BodyState,
) -> Option<(Result<Bytes, std::io::Error>, BodyState)> {
    if let Some(frame) = state.frames.pop_front() {
        if state.sent_first && !state.chunk_delay.is_zero() {
            let stopped = tokio::select! {
                _ = tokio::time::sleep(state.chunk_delay) => false,
                _ = state.stop.cancelled() => true,
            };
            if stopped {
                state.frames.clear();
                state.ending = None;
                return Some((Err(aborted("the scripted server is shutting down")), state));
            }
        }
        state.sent_first = true;
        return Some((Ok(frame), state));
    }
    let abort_reason = match state.ending.take()? {
        StreamEnding::Complete => return None,
        StreamEnding::Drop => {
            tokio::time::sleep(FLUSH_BEFORE_DROP).await;
            "the script drops this stream mid-answer"
        }
        StreamEnding::Stall => {
            state.stop.cancelled().await;
            "the scripted server is shutting down"
        }
    };
    Some((Err(aborted(abort_reason)), state))
}

fn aborted(reason: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_leading_whitespace_and_reassemble() {
        assert_eq!(split_words("Hi there, you"), ["Hi", " there,", " you"]);
        assert_eq!(split_words(" lead\n\nnext "), [" lead", "\n\nnext", " "]);
        assert_eq!(split_words(""), Vec::<&str>::new());
        let text = "  mixed\tspacing  and ünïcode ✓ ";
        assert_eq!(split_words(text).concat(), text);
    }

    #[test]
    fn fragments_are_two_or_three_pieces_that_reassemble() {
        let arguments = r#"{"path":"src/main.rs"}"#;
        let pieces = split_fragments(arguments);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), arguments);
        assert_eq!(split_fragments("{}"), ["{", "}"]);
        assert_eq!(split_fragments(""), Vec::<&str>::new());
        assert_eq!(split_fragments("é✓ü").concat(), "é✓ü");
    }

    #[test]
    fn frames_follow_each_providers_framing() {
        let json = serde_json::json!({"a": 1});
        assert_eq!(data_frame(&json), "data: {\"a\":1}\n\n");
        assert_eq!(
            event_frame("ping", &json),
            "event: ping\ndata: {\"a\":1}\n\n"
        );
    }
}
