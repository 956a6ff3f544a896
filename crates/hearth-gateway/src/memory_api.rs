//! Long-term memory and the status view over the API: `GET /api/memory?q=` (search, or
//! the most recent without `q`), `POST /api/memory` (a note), `DELETE /api/memory/{id}`,
//! `GET /api/status`. Thin: the memory is `hearth-memory`'s, the status `hearth-runtime`'s;
//! every call runs on a blocking thread (SQLite, embedding, the sandbox probe).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hearth_memory::{Memory, MemoryItem, Provenance, SearchOptions};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::ApiJson;
use crate::{AppState, GatewayError};

/// Most results a search or listing returns.
const MAX_RESULTS: usize = 100;
/// Sessions whose tokens and cost the status view lists.
const STATUS_SESSIONS: usize = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/memory", get(search_memory).post(add_note))
        .route("/api/memory/{id}", delete(forget_memory))
        .route("/api/status", get(status))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// A memory as the UI shows it: the item, where it came from, and its score in a search.
fn item_json(item: &MemoryItem, score: Option<f32>) -> Value {
    json!({
        "id": item.id,
        "kind": item.kind.as_str(),
        "provenance": item.provenance.as_str(),
        "source": item.source_label(),
        "session": item.session,
        "speaker": item.speaker,
        "text": item.text,
        "tags": item.tags,
        "timestamp": item.timestamp,
        "score": score,
    })
}

async fn search_memory(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, GatewayError> {
    let limit = query.limit.unwrap_or(20).clamp(1, MAX_RESULTS);
    let workspace = state.runtime.workspace.clone();
    let items = with_memory(&state, move |memory| {
        if query.q.trim().is_empty() {
            let items = memory.list(limit)?;
            return Ok(items.iter().map(|item| item_json(item, None)).collect());
        }
        let options = SearchOptions {
            limit,
            workspace: Some(workspace),
            ..SearchOptions::default()
        };
        let hits = memory.search(&query.q, &options)?;
        Ok(hits
            .iter()
            .map(|hit| item_json(&hit.item, Some(hit.score)))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
    #[serde(default)]
    tags: Vec<String>,
}

async fn add_note(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NoteBody>,
) -> Result<Response, GatewayError> {
    if body.text.trim().is_empty() {
        return Err(GatewayError::BadRequest("text: the note is empty".into()));
    }
    let item = with_memory(&state, move |memory| {
        let id = memory.write_note(body.text.trim(), &body.tags, Provenance::User)?;
        Ok(memory.get(id)?.map(|item| item_json(&item, None)))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

async fn forget_memory(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, GatewayError> {
    let forgotten = with_memory(&state, move |memory| memory.forget(id)).await?;
    if !forgotten {
        return Err(GatewayError::MemoryNotFound { id });
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn status(State(state): State<AppState>) -> Result<Response, GatewayError> {
    let runtime = state.runtime.clone();
    let model = state.settings.default_model.clone();
    let setup = tokio::task::spawn_blocking(move || runtime.status(model.as_deref()))
        .await
        .map_err(|err| GatewayError::Internal(err.to_string()))?;
    let sessions = state.sessions.sessions_usage(STATUS_SESSIONS).await?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "runtime": setup,
        "running_turns": state.sessions.running_turns(),
        "pending_approvals": state.approvals.pending_count(),
        "sessions": sessions,
    }))
    .into_response())
}

/// Runs `call` on the runtime's memory on a blocking thread.
async fn with_memory<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&Memory) -> Result<T, hearth_memory::MemoryError> + Send + 'static,
) -> Result<T, GatewayError> {
    let runtime = state.runtime.clone();
    tokio::task::spawn_blocking(move || {
        let memory = runtime.memory()?;
        call(&memory).map_err(|err| GatewayError::Memory(err.to_string()))
    })
    .await
    .map_err(|err| GatewayError::Internal(err.to_string()))?
}
