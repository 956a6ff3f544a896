//! Why a gateway request failed, and the HTTP status and JSON body each reason answers
//! with: `{"error": {"code": "...", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hearth_runtime::RuntimeError;
use hearth_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(
        "missing or wrong token: send `Authorization: Bearer TOKEN` (the token is in \
         $HEARTH_HOME/gateway.token, or HEARTH_GATEWAY_TOKEN; `hearth serve --print-token` \
         prints it)"
    )]
    Unauthorized,
    #[error(
        "requests from the page origin {origin} are refused: only a page served from the \
         gateway's own origin may drive the agent"
    )]
    ForeignOrigin { origin: String },
    #[error("no session {id}; GET /api/sessions lists them")]
    SessionNotFound { id: String },
    #[error(
        "session {id} is already running a turn (one at a time per session): wait for its \
         final event, or POST /api/sessions/{id}/cancel"
    )]
    TurnRunning { id: String },
    #[error("no pending approval {id}: it was answered, timed out, or never asked")]
    ApprovalNotFound { id: String },
    #[error("no memory #{id}: it was forgotten, or never stored")]
    MemoryNotFound { id: i64 },
    #[error("memory: {0}")]
    Memory(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is over the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the request took longer than {seconds} s")]
    Timeout { seconds: u64 },
    #[error("the gateway is shutting down; no new turns start")]
    ShuttingDown,
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(StoreError),
    #[error("an internal task failed: {0}")]
    Internal(String),
}

impl From<StoreError> for GatewayError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::SessionNotFound { query } => GatewayError::SessionNotFound { id: query },
            StoreError::PrefixTooShort { prefix, .. } => {
                GatewayError::SessionNotFound { id: prefix }
            }
            other => GatewayError::Store(other),
        }
    }
}

impl GatewayError {
    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::Unauthorized => StatusCode::UNAUTHORIZED,
            GatewayError::ForeignOrigin { .. } => StatusCode::FORBIDDEN,
            GatewayError::SessionNotFound { .. }
            | GatewayError::ApprovalNotFound { .. }
            | GatewayError::MemoryNotFound { .. } => StatusCode::NOT_FOUND,
            GatewayError::TurnRunning { .. } => StatusCode::CONFLICT,
            GatewayError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GatewayError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            GatewayError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            GatewayError::Runtime(RuntimeError::InvalidModel(_)) => StatusCode::BAD_REQUEST,
            GatewayError::Runtime(_)
            | GatewayError::Store(_)
            | GatewayError::Memory(_)
            | GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable name of the reason.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::Unauthorized => "unauthorized",
            GatewayError::ForeignOrigin { .. } => "foreign_origin",
            GatewayError::SessionNotFound { .. } => "session_not_found",
            GatewayError::TurnRunning { .. } => "turn_running",
            GatewayError::ApprovalNotFound { .. } => "approval_not_found",
            GatewayError::MemoryNotFound { .. } => "memory_not_found",
            GatewayError::BadRequest(_) => "bad_request",
            GatewayError::BodyTooLarge { .. } => "body_too_large",
            GatewayError::Timeout { .. } => "timeout",
            GatewayError::ShuttingDown => "shutting_down",
            GatewayError::Runtime(RuntimeError::InvalidModel(_)) => "invalid_model",
            GatewayError::Runtime(_)
            | GatewayError::Store(_)
            | GatewayError::Memory(_)
            | GatewayError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!("gateway request failed: {self}");
        }
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        (self.status(), Json(body)).into_response()
    }
}
