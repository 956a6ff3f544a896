//! `GET /api/events`: a WebSocket carrying every session's turn events (`{"session_id",
//! "event"}` per text message), so a UI sees turns started elsewhere. The socket is for
//! reading: what a client sends is bounded (small messages, a few of them) and a flood
//! closes it.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;

/// The subprotocol the gateway selects; clients offer it next to `bearer.TOKEN`.
pub const EVENTS_PROTOCOL: &str = "hearth.events";
/// Largest message a client may send.
const CLIENT_MESSAGE_LIMIT: usize = 4096;
/// Messages a client may send on one socket before it is closed.
const CLIENT_MESSAGES_ALLOWED: u32 = 64;
/// Close code "policy violation".
const POLICY_VIOLATION: u16 = 1008;
/// Close code "going away" (the gateway shuts down).
const GOING_AWAY: u16 = 1001;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/events", get(upgrade))
}

async fn upgrade(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .protocols([EVENTS_PROTOCOL])
        .max_message_size(CLIENT_MESSAGE_LIMIT)
        .max_frame_size(CLIENT_MESSAGE_LIMIT)
        .on_upgrade(move |socket| carry_events(socket, state))
}

async fn carry_events(mut socket: WebSocket, state: AppState) {
    let mut events = state.sessions.subscribe();
    let closing = state.sessions.closing();
    let mut received = 0u32;
    loop {
        tokio::select! {
            () = closing.cancelled() => {
                close(&mut socket, GOING_AWAY, "the gateway is shutting down").await;
                return;
            }
            event = events.recv() => {
                let text = match event {
                    Ok(event) => serde_json::to_string(&event).unwrap_or_default(),
                    Err(RecvError::Lagged(missed)) => {
                        serde_json::json!({ "type": "lagged", "missed": missed }).to_string()
                    }
                    Err(RecvError::Closed) => return,
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            message = socket.recv() => {
                match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {
                        received += 1;
                        if received > CLIENT_MESSAGES_ALLOWED {
                            close(&mut socket, POLICY_VIOLATION, "too many messages; this socket only sends").await;
                            return;
                        }
                    }
                }
            }
        }
    }
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
