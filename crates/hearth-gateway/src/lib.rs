//! Hearth's gateway: the resident process's HTTP and WebSocket API over one shared
//! runtime (`hearth serve`). It knows no SQL (sessions go through `hearth-store`'s API)
//! and the loop knows no HTTP.
//!
//! # For other front ends inside the gateway (the `/v1` OpenAI endpoint)
//!
//! [`AppState`] is what every handler gets. To run a turn and read its events:
//!
//! ```ignore
//! let mut turn = state.sessions.start_turn(&session_id, "text").await?; // 409 if one runs
//! while let Some(event) = turn.events.recv().await {
//!     // TurnEvent::Agent(AgentEvent) or TurnEvent::ApprovalRequested(..); the last one
//!     // is AgentEvent::Final, or AgentEvent::Error when the turn could not run.
//! }
//! ```
//!
//! The turn is a task of its own: dropping the [`TurnHandle`] (a client that went
//! away) does not stop it; [`SessionHub::cancel`] does. Every event also goes to the
//! bus ([`SessionHub::subscribe`]) that `/api/events` WebSockets carry.
//! [`SessionHub::create_session`] opens a session. Routes added to
//! [`openai::routes`] are merged into [`router`] behind the same auth and limits.

mod api;
mod approvals;
mod auth;
mod channels;
mod error;
mod events_ws;
pub mod heartbeat;
mod hub;
mod memory_api;
pub(crate) mod openai;
pub mod scheduler;
mod serve;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use hearth_runtime::Resolved;
use hearth_store::Store;

pub use approvals::{ApprovalAnswer, ApprovalHub, ApprovalRequested};
pub use auth::{GatewayToken, TokenError, TOKEN_ENV, TOKEN_FILE};
pub use channels::{start_channels, HubTurnRunner, RunningChannels};
pub use error::GatewayError;
pub use hub::{BusEvent, NewSession, SessionHub, TurnEvent, TurnHandle};
pub use serve::{is_loopback_listen, serve};
pub use web::CONTENT_SECURITY_POLICY_VALUE;

/// Largest request body accepted (larger answers 413).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How the gateway runs, beyond the runtime's own settings.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// The address the listener is bound to (its real port, also with port 0).
    pub listen: SocketAddr,
    /// How long an approval question waits for an answer before it is a deny.
    pub approval_timeout: Duration,
    /// How long a request may take to produce its response head (a streamed body
    /// is not limited by it).
    pub request_timeout: Duration,
    /// How long a connection may take to send a request head (also idle time between
    /// requests on a kept-alive connection) before it is closed.
    pub header_read_timeout: Duration,
    /// How long running turns get to finish on shutdown before they are cancelled.
    pub shutdown_grace: Duration,
    /// The model of sessions created without one (`None`: as configured).
    pub default_model: Option<String>,
    /// Page origins accepted besides the gateway's own loopback ones (`--origin`,
    /// `[gateway] origins`), e.g. `http://192.168.1.5:8420` for a phone on the LAN.
    pub extra_origins: Vec<String>,
}

impl GatewaySettings {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            approval_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            default_model: None,
            extra_origins: Vec::new(),
        }
    }
}

/// What every handler shares: the runtime, the sessions and their turns, the
/// approvals waiting for a person, the token and the origins allowed.
#[derive(Clone)]
pub struct AppState {
    pub runtime: Arc<Resolved>,
    pub sessions: Arc<SessionHub>,
    pub approvals: Arc<ApprovalHub>,
    pub token: Arc<GatewayToken>,
    pub settings: Arc<GatewaySettings>,
    /// Origins a browser page may call from: the gateway's own and the extra ones.
    origins: Arc<Vec<String>>,
}

/// The gateway built once at start: the runtime's resident parts and the hubs.
pub type Gateway = AppState;

impl AppState {
    /// The gateway over `runtime` (MCP servers already started, so they are shared)
    /// and `store`.
    pub fn new(
        runtime: Resolved,
        store: Arc<Store>,
        token: GatewayToken,
        settings: GatewaySettings,
    ) -> Self {
        let runtime = Arc::new(runtime);
        let approvals = Arc::new(ApprovalHub::new(settings.approval_timeout));
        let sessions = Arc::new(SessionHub::new(
            runtime.clone(),
            store,
            approvals.clone(),
            settings.default_model.clone(),
        ));
        let mut origins = auth::own_origins(settings.listen);
        origins.extend(settings.extra_origins.iter().cloned());
        let origins = Arc::new(origins);
        Self {
            runtime,
            sessions,
            approvals,
            token: Arc::new(token),
            settings: Arc::new(settings),
            origins,
        }
    }
}

/// Every route: `/health` and the web UI (`/`, `/assets/*`) open, the rest behind the
/// token and the Origin check, with the body limit and the request timeout.
pub fn router(state: AppState) -> Router {
    let protected = api::routes()
        .merge(events_ws::routes())
        .merge(memory_api::routes())
        .merge(openai::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .merge(api::open_routes())
        .merge(web::routes())
        .merge(protected)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::refuse_foreign_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            serve::request_timeout,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
