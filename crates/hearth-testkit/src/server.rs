//! The scripted server itself: binds loopback, serves both wire formats with axum,
//! hands out script steps one per request and keeps the record of what was sent.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::handler;
use crate::history_check::history_problems;
use crate::ollama_native;
use crate::personality::Personality;
use crate::script::{Script, Step};

/// Which provider's wire format a request used, decided by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Wire {
    /// OpenAI Chat Completions: `/v1/chat/completions` or `/chat/completions`.
    #[serde(rename = "openai")]
    OpenAi,
    /// Anthropic Messages: `/v1/messages`.
    #[serde(rename = "anthropic")]
    Anthropic,
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub path: String,
    /// Header names are lowercase; values that are not UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The JSON body; a body that is not JSON is recorded as a JSON string of its text.
    pub body: serde_json::Value,
    pub wire: Wire,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Called with each request as it is recorded, in arrival order (the binary uses it
/// to append to its record file). It runs while the record is locked: keep it short.
pub type RequestObserver = Arc<dyn Fn(&RecordedRequest) + Send + Sync>;

/// Decides each answer from the request itself instead of the script (a scripted model
/// that reacts to what the client sent, e.g. `agentdojo`'s). With one set, the script's
/// steps are never taken. It runs while the record is locked: keep it pure and short.
pub type Responder = Arc<dyn Fn(&RecordedRequest) -> Step + Send + Sync>;

/// How to start a server beyond its script.
#[derive(Clone, Default)]
pub struct ServerOptions {
    /// Port on 127.0.0.1; 0 lets the system pick a free one.
    pub port: u16,
    pub on_request: Option<RequestObserver>,
    /// Answers every request in place of the script (see [`Responder`]).
    pub responder: Option<Responder>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerOptions")
            .field("port", &self.port)
            .field("on_request", &self.on_request.is_some())
            .field("responder", &self.responder.is_some())
            .finish()
    }
}

/// State shared by the server handle and every request handler.
pub(crate) struct Shared {
    state: Mutex<ScriptState>,
    observer: Option<RequestObserver>,
    responder: Option<Responder>,
    /// Which real server the OpenAI answers imitate.
    pub personality: Personality,
    /// Cancelled on shutdown: ends delays, hangs and stalled streams.
    pub stop: CancellationToken,
    /// The paths of Ollama native API requests (`/api/version`, …), in arrival order.
    pub native_calls: Mutex<Vec<String>>,
}

struct ScriptState {
    pending: VecDeque<Step>,
    total_steps: usize,
    requests: Vec<RecordedRequest>,
    /// Broken tool-call histories seen so far, one line per problem.
    violations: Vec<String>,
}

/// What a request gets from the script: its step, or the news that there is none.
pub(crate) enum NextStep {
    Step { step: Step, number: usize },
    Exhausted { total_steps: usize },
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ScriptState> {
        // A panicking observer must not take the whole server down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a request that takes no step (its body was not JSON).
    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut state = self.lock();
        if let Some(observer) = &self.observer {
            observer(&request);
        }
        state.requests.push(request);
    }

    /// Records the request and takes the next script step for it.
    pub(crate) fn record_and_take_step(&self, request: RecordedRequest) -> NextStep {
        let mut state = self.lock();
        if let Some(observer) = &self.observer {
            observer(&request);
        }
        let number_received = state.requests.len() + 1;
        for problem in history_problems(request.wire, &request.body) {
            state.violations.push(format!(
                "request {number_received} ({}): {problem}",
                request.path
            ));
        }
        if let Some(responder) = &self.responder {
            let step = responder(&request);
            state.requests.push(request);
            let number = state.requests.len();
            return NextStep::Step { step, number };
        }
        state.requests.push(request);
        let number = state.total_steps - state.pending.len() + 1;
        match state.pending.pop_front() {
            Some(step) => NextStep::Step { step, number },
            None => NextStep::Exhausted {
                total_steps: state.total_steps,
            },
        }
    }
}

/// A model server on 127.0.0.1 that replays a [`Script`] over real HTTP and records
/// every request. Dropping it stops the server in the background;
/// [`shutdown`](Self::shutdown) also waits for it to finish.
///
/// Every request's history is checked as it arrives: each tool call has exactly one
/// result, in call order, and no result lacks its call (both wire formats). What breaks
/// that is kept as a violation ([`violations`](Self::violations)); a server dropped
/// with violations nobody took ([`take_violations`](Self::take_violations)) panics,
/// so every test that uses one checks the invariant without asking.
pub struct ScriptedServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Checks the script and starts serving it on a free port of 127.0.0.1.
    pub async fn start(script: Script) -> std::io::Result<ScriptedServer> {
        ScriptedServer::start_with(script, ServerOptions::default()).await
    }

    /// Like [`start`](Self::start), with a chosen port and a request observer.
    /// An invalid script is an `InvalidInput` error naming the bad step.
    pub async fn start_with(
        script: Script,
        options: ServerOptions,
    ) -> std::io::Result<ScriptedServer> {
        ScriptedServer::start_full(script, options, Personality::default()).await
    }

    /// Like [`start`](Self::start), imitating the server `personality` describes.
    pub async fn start_as(
        script: Script,
        personality: Personality,
    ) -> std::io::Result<ScriptedServer> {
        ScriptedServer::start_full(script, ServerOptions::default(), personality).await
    }

    async fn start_full(
        script: Script,
        options: ServerOptions,
        personality: Personality,
    ) -> std::io::Result<ScriptedServer> {
        script
            .validate()
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(ScriptState {
                total_steps: script.steps.len(),
                pending: script.steps.into(),
                requests: Vec::new(),
                violations: Vec::new(),
            }),
            observer: options.on_request,
            responder: options.responder,
            personality,
            stop: CancellationToken::new(),
            native_calls: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/v1/chat/completions", post(handler::openai))
            .route("/chat/completions", post(handler::openai))
            .route("/v1/messages", post(handler::anthropic))
            .route("/api/version", get(ollama_native::version))
            .route("/api/show", post(ollama_native::show))
            .route("/api/ps", get(ollama_native::ps))
            .fallback(handler::no_route)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&shared));
        let stopped = shared.stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            // Accept errors are retried inside axum; serve only returns on shutdown.
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await;
        });
        Ok(ScriptedServer {
            address,
            shared,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL for Anthropic clients.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL for OpenAI clients.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The paths of the Ollama native API requests received so far (`/api/version`,
    /// `/api/show`, `/api/ps`), in arrival order, whatever the personality.
    pub fn native_api_calls(&self) -> Vec<String> {
        self.shared
            .native_calls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// What was wrong with the tool-call histories received so far (each line names
    /// the request and the call), in arrival order; empty when all were well formed.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Like [`violations`](Self::violations), and forgets them, so a test that sends a
    /// broken history on purpose can assert on it without failing when the server drops.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Steps not yet consumed by a request.
    pub fn remaining_steps(&self) -> usize {
        self.shared.lock().pending.len()
    }

    /// Stops accepting requests, ends hanging and stalled answers, and waits for
    /// open connections to close.
    pub async fn shutdown(mut self) {
        self.shared.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.shared.stop.cancel();
        let violations = std::mem::take(&mut self.shared.lock().violations);
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the scripted server received tool-call histories that break \"every call gets exactly one result, in call order\":\n{}",
                violations.join("\n")
            );
        }
    }
}
