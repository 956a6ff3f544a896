//! The native JSON API: sessions (list, create, rename, delete), messages streamed as server-sent events, cancel and
//! approvals. `/health` is the one open route.

use std::convert::Infallible;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::approvals::ApprovalAnswer;
use crate::hub::{NewSession, TurnEvent, TurnHandle};
use crate::{AppState, GatewayError, BODY_LIMIT};

/// Routes that need no token.
pub(crate) fn open_routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

/// The token-protected native API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", get(list_sessions).post(create_session))
        .route(
            "/api/sessions/{id}",
            get(session_transcript)
                .patch(rename_session)
                .delete(delete_session),
        )
        .route("/api/sessions/{id}/messages", post(send_message))
        .route("/api/sessions/{id}/cancel", post(cancel_turn))
        .route("/api/sessions/{id}/compact", post(compact_session))
        .route("/api/approvals/{id}", post(answer_approval))
}

/// A JSON body whose problems answer 400 naming the field (413 when over the limit),
/// with the gateway's JSON error body.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = GatewayError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> GatewayError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return GatewayError::BodyTooLarge { limit: BODY_LIMIT };
    }
    let detail = match &rejection {
        JsonRejection::JsonDataError(err) => std::error::Error::source(err)
            .map(ToString::to_string)
            .unwrap_or_else(|| err.body_text()),
        other => other.body_text(),
    };
    GatewayError::BadRequest(format!("invalid JSON body: {detail}"))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn list_sessions(State(state): State<AppState>) -> Result<Response, GatewayError> {
    let sessions = state.sessions.list_sessions().await?;
    Ok(Json(json!({ "sessions": sessions })).into_response())
}

async fn create_session(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, GatewayError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => GatewayError::BodyTooLarge { limit: BODY_LIMIT },
        _ => GatewayError::BadRequest(rejection.body_text()),
    })?;
    // No body at all is a session with every setting as configured.
    let new: NewSession = if body.iter().all(u8::is_ascii_whitespace) {
        NewSession::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|err| GatewayError::BadRequest(format!("invalid JSON body: {err}")))?
    };
    let session = state.sessions.create_session(new).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

async fn session_transcript(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let (session, messages) = state.sessions.transcript(&id).await?;
    Ok(Json(json!({ "session": session, "messages": messages })).into_response())
}

async fn delete_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    state.sessions.delete_session(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameBody {
    title: String,
}

async fn rename_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Response, GatewayError> {
    let session = state.sessions.rename_session(&id, &body.title).await?;
    Ok(Json(session).into_response())
}

#[derive(Deserialize)]
struct MessageBody {
    text: String,
}

/// Starts a turn and streams its events, one JSON event per `data:` line, ending with
/// the final event. The turn goes on if the client disconnects.
async fn send_message(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageBody>,
) -> Result<Response, GatewayError> {
    let mut turn = state.sessions.start_turn(&id, &body.text).await?;
    // The answer acknowledges the message, so it leaves only once the message is
    // durable: the turn's first event (`session_started`) follows the write, or tells
    // why the turn could not start. A crash before then loses nothing acknowledged.
    let first = turn.events.recv().await;
    let stream = futures_util::stream::iter(first.map(sse_event)).chain(turn_stream(turn));
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn turn_stream(turn: TurnHandle) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(turn, |mut turn| async move {
        let event = turn.events.recv().await?;
        Some((sse_event(event), turn))
    })
}

fn sse_event(event: TurnEvent) -> Result<Event, Infallible> {
    let data = serde_json::to_string(&event).unwrap_or_else(|err| {
        json!({ "type": "error", "message": format!("unserialisable event: {err}") }).to_string()
    });
    Ok(Event::default().data(data))
}

async fn cancel_turn(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let cancelled = state.sessions.cancel(&id).await?;
    Ok(Json(json!({ "cancelled": cancelled })).into_response())
}

/// Summarises the session's older history now; `checkpoint` is null when there was
/// nothing old enough to compact.
async fn compact_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let checkpoint = state.sessions.compact(&id).await?;
    Ok(Json(json!({ "checkpoint": checkpoint })).into_response())
}

#[derive(Deserialize)]
struct ApprovalBody {
    decision: ApprovalAnswer,
}

async fn answer_approval(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApprovalBody>,
) -> Result<Response, GatewayError> {
    state.approvals.answer(&id, body.decision)?;
    Ok(Json(json!({ "id": id, "answered": true })).into_response())
}
