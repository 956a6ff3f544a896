//! Bodies for misbehaving servers, generated while they are sent and never held whole:
//! one frame repeated many times (a runaway answer, an endless line) and a stream of
//! SSE comments with no data (keep-alives forever).

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// What a repeated body sends, in order: `prefix`, `repeated` `times` times, `tail`;
/// then it ends, or with `stall` stays open and silent until shutdown.
pub(crate) struct RepeatedFrames {
    pub prefix: Vec<Bytes>,
    pub repeated: Bytes,
    pub times: u64,
    pub tail: Vec<Bytes>,
    pub stall: bool,
}

struct RepeatState {
    plan: RepeatedFrames,
    position: Position,
    stop: CancellationToken,
}

enum Position {
    Prefix(usize),
    Repeated(u64),
    Tail(usize),
    Ending,
    Done,
}

/// The body of `plan`. Shutdown (`stop`) ends a stalled body with an error.
pub(crate) fn repeated_body(plan: RepeatedFrames, stop: CancellationToken) -> Body {
    let state = RepeatState {
        plan,
        position: Position::Prefix(0),
        stop,
    };
    Body::from_stream(futures_util::stream::unfold(state, next_repeated_item))
}

async fn next_repeated_item(
    mut state: RepeatState,
) -> Option<(Result<Bytes, std::io::Error>, RepeatState)> {
    loop {
        let plan = &state.plan;
        let (item, next) = match state.position {
            Position::Prefix(index) if index < plan.prefix.len() => (
                Some(plan.prefix[index].clone()),
                Position::Prefix(index + 1),
            ),
            Position::Prefix(_) => (None, Position::Repeated(0)),
            Position::Repeated(count) if count < plan.times => {
                (Some(plan.repeated.clone()), Position::Repeated(count + 1))
            }
            Position::Repeated(_) => (None, Position::Tail(0)),
            Position::Tail(index) if index < plan.tail.len() => {
                (Some(plan.tail[index].clone()), Position::Tail(index + 1))
            }
            Position::Tail(_) => (None, Position::Ending),
            Position::Ending if plan.stall => {
                state.stop.cancelled().await;
                state.position = Position::Done;
                let shutdown = std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "the scripted server is shutting down",
                );
                return Some((Err(shutdown), state));
            }
            Position::Ending | Position::Done => return None,
        };
        state.position = next;
        if let Some(frame) = item {
            return Some((Ok(frame), state));
        }
    }
}

/// `: ping\n\n` every `interval`, forever; shutdown ends it with an error.
pub(crate) fn keep_alive_body(interval: Duration, stop: CancellationToken) -> Body {
    let ticks = futures_util::stream::unfold((interval, stop), |(interval, stop)| async move {
        let stopped = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = stop.cancelled() => true,
        };
        if stopped {
            return None;
        }
        let frame: Result<Bytes, std::io::Error> = Ok(Bytes::from_static(b": ping\n\n"));
        Some((frame, (interval, stop)))
    });
    Body::from_stream(ticks)
}

/// `text` split into the part before `marker` and the part after it (`None` if absent).
pub(crate) fn split_at_marker(text: &str, marker: &str) -> Option<(Bytes, Bytes)> {
    let (before, after) = text.split_once(marker)?;
    Some((
        Bytes::copy_from_slice(before.as_bytes()),
        Bytes::copy_from_slice(after.as_bytes()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_repeated_body_sends_prefix_repeats_and_tail_in_order() {
        let plan = RepeatedFrames {
            prefix: vec![Bytes::from_static(b"<")],
            repeated: Bytes::from_static(b"ab"),
            times: 3,
            tail: vec![Bytes::from_static(b"a"), Bytes::from_static(b">")],
            stall: false,
        };
        let body = repeated_body(plan, CancellationToken::new());
        let collected = axum::body::to_bytes(body, 1024).await.unwrap();
        assert_eq!(collected, "<abababa>");
    }

    #[test]
    fn markers_split_serialized_json() {
        let (before, after) = split_at_marker(r#"{"text":"MARK","n":1}"#, "MARK").unwrap();
        assert_eq!(
            (before.as_ref(), after.as_ref()),
            (&b"{\"text\":\""[..], &b"\",\"n\":1}"[..])
        );
        assert!(split_at_marker("{}", "MARK").is_none());
    }
}
