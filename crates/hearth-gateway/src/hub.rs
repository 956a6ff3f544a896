//! The session hub: sessions and their running turns. One turn at a time per session
//! (a second message is refused with 409), many sessions at once; each turn is a task of
//! its own that keeps running when the client that started it goes away, and every
//! event goes both to that client and to the bus every `/api/events` WebSocket reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hearth_agent::Agent;
use hearth_protocol::{AgentEvent, Message};
use hearth_runtime::Resolved;
use hearth_store::{AsyncStore, SessionInfo, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::approvals::{ApprovalHub, ApprovalRequested, GatewayApprover};
use crate::GatewayError;

/// Events the bus holds for a slow WebSocket before it skips ahead.
const BUS_CAPACITY: usize = 1024;
/// How long cancelled turns get to answer their pending calls on shutdown.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// One event of a turn: the loop's own, or an approval question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TurnEvent {
    ApprovalRequested(ApprovalRequested),
    Agent(AgentEvent),
}

impl TurnEvent {
    /// Whether this is the turn's last event (`final`, or `error` when it could not run).
    pub fn is_last(&self) -> bool {
        matches!(
            self,
            TurnEvent::Agent(AgentEvent::Final { .. } | AgentEvent::Error { .. })
        )
    }
}

/// A turn's event as the bus (and `/api/events`) carries it: with its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub session_id: String,
    pub event: TurnEvent,
}

/// A session's tokens and cost so far, for the status view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionUsage {
    pub session: SessionInfo,
    pub usage: hearth_protocol::Usage,
    pub cost_usd: f64,
}

/// The events of a turn this caller started; `None` after the last one.
pub struct TurnHandle {
    pub session_id: String,
    pub events: mpsc::UnboundedReceiver<TurnEvent>,
}

/// What `POST /api/sessions` may set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub title: Option<String>,
    /// A `provider:model` id; default as configured.
    pub model: Option<String>,
    /// Must be the gateway's workspace (the only allowed root for now).
    pub workspace: Option<String>,
}

/// Where a running turn's events go, and its cancel token.
#[derive(Clone)]
pub(crate) struct TurnSink {
    session_id: String,
    events: mpsc::UnboundedSender<TurnEvent>,
    bus: broadcast::Sender<BusEvent>,
    pub(crate) cancel: CancellationToken,
}

impl TurnSink {
    /// Sends `event` to the client that started the turn (if still there) and the bus.
    pub(crate) fn emit(&self, event: TurnEvent) {
        // Nobody listening is fine either way: the turn goes on.
        let _ = self.bus.send(BusEvent {
            session_id: self.session_id.clone(),
            event: event.clone(),
        });
        let _ = self.events.send(event);
    }
}

/// The running turn of a session, for the approver that agent keeps across turns.
#[derive(Clone, Default)]
pub(crate) struct TurnSinkSlot(Arc<Mutex<Option<TurnSink>>>);

impl TurnSinkSlot {
    pub(crate) fn current(&self) -> Option<TurnSink> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, sink: Option<TurnSink>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = sink;
    }
}

/// A session the gateway has run turns in: its agent (kept, so "always" approvals
/// last the session) and its running turn, if any.
#[derive(Default)]
struct SessionSlot {
    agent: Option<Arc<Agent>>,
    turn: TurnSinkSlot,
    running: Option<CancellationToken>,
}

/// Agents kept between turns (each holds its provider and tools); past this,
/// idle sessions' agents are dropped and rebuilt on their next turn, which forgets
/// their "always" approvals.
const RESIDENT_AGENTS: usize = 64;

/// Drops idle sessions' agents (never `keep`'s) until at most [`RESIDENT_AGENTS`] remain.
fn evict_idle_agents(slots: &mut HashMap<String, SessionSlot>, keep: &str) {
    let mut resident = slots.values().filter(|slot| slot.agent.is_some()).count();
    for (id, slot) in slots.iter_mut() {
        if resident <= RESIDENT_AGENTS {
            break;
        }
        if id != keep && slot.running.is_none() && slot.agent.take().is_some() {
            resident -= 1;
        }
    }
    slots.retain(|_, slot| slot.running.is_some() || slot.agent.is_some());
}

/// Sessions, turns and the event bus.
pub struct SessionHub {
    runtime: Arc<Resolved>,
    /// The model of new sessions that name none (the front end's choice, else config).
    default_model: Option<String>,
    store: Arc<Store>,
    /// The one store thread every session's agent writes through (started on the
    /// first turn): a thread per agent cost a thread start, an exit and its malloc
    /// arena for every session, and the connection serialises the writes anyway.
    async_store: std::sync::OnceLock<AsyncStore>,
    approvals: Arc<ApprovalHub>,
    slots: Mutex<HashMap<String, SessionSlot>>,
    bus: broadcast::Sender<BusEvent>,
    tasks: TaskTracker,
    /// Cancelled when the gateway begins to shut down: no new turns, sockets close.
    closing: CancellationToken,
    /// Tools added to every session's agent (the channels' `channel_send`).
    session_tools: std::sync::OnceLock<crate::channels::SessionTools>,
}

impl SessionHub {
    pub fn new(
        runtime: Arc<Resolved>,
        store: Arc<Store>,
        approvals: Arc<ApprovalHub>,
        default_model: Option<String>,
    ) -> Self {
        Self {
            runtime,
            default_model,
            store,
            async_store: std::sync::OnceLock::new(),
            approvals,
            slots: Mutex::new(HashMap::new()),
            bus: broadcast::channel(BUS_CAPACITY).0,
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
            session_tools: std::sync::OnceLock::new(),
        }
    }

    /// Adds tools to every agent built from now on, each given the session's approver
    /// (decisions recorded in the session). Set once.
    pub fn set_session_tools(&self, tools: crate::channels::SessionTools) {
        let _ = self.session_tools.set(tools);
    }

    /// Every turn's events, for as long as the receiver is kept.
    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.bus.subscribe()
    }

    /// Cancelled when the gateway begins to shut down.
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, GatewayError> {
        self.with_store(|store| store.list_sessions()).await
    }

    pub async fn session(&self, id: &str) -> Result<SessionInfo, GatewayError> {
        let id = id.to_string();
        self.with_store(move |store| store.session(&id)).await
    }

    /// The session and its transcript.
    pub async fn transcript(&self, id: &str) -> Result<(SessionInfo, Vec<Message>), GatewayError> {
        let id = id.to_string();
        self.with_store(move |store| {
            let session = store.session(&id)?;
            let messages = store.messages(&session.id)?;
            Ok((session, messages))
        })
        .await
    }

    /// Opens a session in the gateway's workspace.
    pub async fn create_session(&self, new: NewSession) -> Result<SessionInfo, GatewayError> {
        let asked = new.model.as_deref().or(self.default_model.as_deref());
        let model = self.runtime.model(asked)?;
        if let Some(workspace) = &new.workspace {
            let asked = std::path::Path::new(workspace).canonicalize().ok();
            if asked.as_deref() != Some(self.runtime.workspace.as_path()) {
                return Err(GatewayError::BadRequest(format!(
                    "workspace: {workspace} is not an allowed root; this gateway serves {} \
                     (start it with `hearth serve -C DIR` for another)",
                    self.runtime.workspace.display()
                )));
            }
        }
        let workspace = self.runtime.workspace.clone();
        let title = new.title.filter(|title| !title.trim().is_empty());
        self.with_store(move |store| {
            let session = store.create_session(&model.to_string(), &workspace)?;
            match title {
                Some(title) => {
                    store.set_title(&session.id, &title)?;
                    store.session(&session.id)
                }
                None => Ok(session),
            }
        })
        .await
    }

    /// Sets the session's title (trimmed; refused when empty).
    pub async fn rename_session(&self, id: &str, title: &str) -> Result<SessionInfo, GatewayError> {
        let title = title.trim().to_string();
        if title.is_empty() {
            return Err(GatewayError::BadRequest("title: the title is empty".into()));
        }
        let session = self.session(id).await?;
        self.with_store(move |store| {
            store.set_title(&session.id, &title)?;
            store.session(&session.id)
        })
        .await
    }

    /// Tokens and cost of the `limit` most recently active sessions.
    pub async fn sessions_usage(&self, limit: usize) -> Result<Vec<SessionUsage>, GatewayError> {
        self.with_store(move |store| {
            let mut sessions = store.list_sessions()?;
            sessions.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
            sessions.truncate(limit);
            sessions
                .into_iter()
                .map(|session| {
                    let usage = store.session_usage(&session.id)?;
                    let cost_usd = store.session_cost_usd(&session.id)?;
                    Ok(SessionUsage {
                        session,
                        usage,
                        cost_usd,
                    })
                })
                .collect()
        })
        .await
    }

    /// Deletes a session that is not running a turn.
    pub async fn delete_session(&self, id: &str) -> Result<(), GatewayError> {
        let session = self.session(id).await?;
        {
            let mut slots = self.slots();
            if slots
                .get(&session.id)
                .is_some_and(|slot| slot.running.is_some())
            {
                return Err(GatewayError::TurnRunning { id: session.id });
            }
            slots.remove(&session.id);
        }
        self.with_store(move |store| store.delete_session(&session.id))
            .await
    }

    /// Cancels the session's running turn; `false` when none was running.
    pub async fn cancel(&self, id: &str) -> Result<bool, GatewayError> {
        let session = self.session(id).await?;
        let slots = self.slots();
        let running = slots.get(&session.id).and_then(|slot| slot.running.clone());
        match running {
            Some(cancel) => {
                cancel.cancel();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Compacts session `id`'s older history now (`POST /api/sessions/{id}/compact`);
    /// refused while it runs a turn, and no turn starts until it is done.
    pub async fn compact(
        &self,
        id: &str,
    ) -> Result<Option<hearth_store::Checkpoint>, GatewayError> {
        let session = self.session(id).await?;
        let cancel = self.closing.child_token();
        {
            let mut slots = self.slots();
            let slot = slots.entry(session.id.clone()).or_default();
            if slot.running.is_some() {
                return Err(GatewayError::TurnRunning { id: session.id });
            }
            slot.running = Some(cancel.clone());
        }
        let compacted = match self.agent_for(&session).await {
            Ok(agent) => agent
                .compact(&session.id, &cancel)
                .await
                .map_err(|err| GatewayError::Internal(err.to_string())),
            Err(err) => Err(err),
        };
        if let Some(slot) = self.slots().get_mut(&session.id) {
            slot.running = None;
        }
        compacted
    }

    /// Starts a turn with `text` in session `id` and returns its events. Refused with
    /// [`GatewayError::TurnRunning`] while the session runs another.
    pub async fn start_turn(
        self: &Arc<Self>,
        id: &str,
        text: &str,
    ) -> Result<TurnHandle, GatewayError> {
        if self.closing.is_cancelled() {
            return Err(GatewayError::ShuttingDown);
        }
        if text.trim().is_empty() {
            return Err(GatewayError::BadRequest(
                "text: the message is empty".into(),
            ));
        }
        let session = self.session(id).await?;
        let (events, receiver) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let sink = TurnSink {
            session_id: session.id.clone(),
            events,
            bus: self.bus.clone(),
            cancel: cancel.clone(),
        };
        {
            let mut slots = self.slots();
            let slot = slots.entry(session.id.clone()).or_default();
            if slot.running.is_some() {
                return Err(GatewayError::TurnRunning { id: session.id });
            }
            slot.running = Some(cancel);
            slot.turn.set(Some(sink.clone()));
        }
        let hub = Arc::clone(self);
        let session_id = session.id.clone();
        let text = self.runtime.expand_skill_mentions(text);
        self.tasks.spawn(async move {
            hub.run_turn(&session, &text, sink).await;
        });
        Ok(TurnHandle {
            session_id,
            events: receiver,
        })
    }

    async fn run_turn(&self, session: &SessionInfo, text: &str, sink: TurnSink) {
        let outcome = match self.agent_for(session).await {
            Ok(agent) => {
                let emitter = sink.clone();
                let mut emit = move |event: AgentEvent| emitter.emit(TurnEvent::Agent(event));
                agent
                    .run_turn(&session.id, text, &mut emit, &sink.cancel)
                    .await
                    .map(|_| ())
                    .map_err(|err| err.to_event())
            }
            Err(err) => Err(AgentEvent::Error {
                message: err.to_string(),
                failure: None,
            }),
        };
        if let Err(error) = outcome {
            sink.emit(TurnEvent::Agent(error));
        }
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(&session.id) {
            slot.running = None;
            slot.turn.set(None);
        }
        evict_idle_agents(&mut slots, &session.id);
    }

    /// The session's agent, built on its first turn (on a blocking thread: the first
    /// one opens memory and may load the embedder) and kept.
    async fn agent_for(&self, session: &SessionInfo) -> Result<Arc<Agent>, GatewayError> {
        let slot_turn = {
            let slots = self.slots();
            let slot = slots.get(&session.id);
            if let Some(agent) = slot.and_then(|slot| slot.agent.clone()) {
                return Ok(agent);
            }
            slot.map(|slot| slot.turn.clone()).unwrap_or_default()
        };
        let approver = Arc::new(GatewayApprover {
            session_id: session.id.clone(),
            hub: self.approvals.clone(),
            turn: slot_turn,
        });
        // Remembered for the build below: an Ollama model's own sampling settings.
        if let Ok(model) = self.runtime.model(Some(&session.model)) {
            self.runtime.ollama_server(&model).await;
        }
        let (runtime, store) = (self.runtime.clone(), self.async_store()?);
        let session_info = session.clone();
        let tools_approver: Arc<dyn hearth_tools::Approver> =
            Arc::new(hearth_runtime::approvals::RecordingApprover::new(
                approver.clone(),
                self.store.clone(),
                &session.id,
            ));
        let mut agent = tokio::task::spawn_blocking(move || {
            let model = runtime.model(Some(&session_info.model))?;
            runtime.agent_on(model, store, &session_info.id, approver)
        })
        .await
        .map_err(|err| GatewayError::Internal(err.to_string()))??;
        if let Some(tools) = self.session_tools.get() {
            for tool in tools(tools_approver) {
                agent.tools.register(tool);
            }
        }
        let agent = Arc::new(agent);
        if let Some(slot) = self.slots().get_mut(&session.id) {
            slot.agent = Some(agent.clone());
        }
        Ok(agent)
    }

    /// Stops new turns and closes the event sockets; running turns get `grace` to
    /// finish, then are cancelled (their pending tool calls answered "cancelled"). What
    /// is still unanswered after that, `Store::repair` closes on the next turn.
    pub async fn shut_down(&self, grace: Duration) {
        self.closing.cancel();
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait()).await.is_ok() {
            return;
        }
        for slot in self.slots().values() {
            if let Some(cancel) = &slot.running {
                cancel.cancel();
            }
        }
        let _ = tokio::time::timeout(CANCEL_GRACE, self.tasks.wait()).await;
    }

    /// How many turns are running.
    pub fn running_turns(&self) -> usize {
        self.slots()
            .values()
            .filter(|slot| slot.running.is_some())
            .count()
    }

    /// The shared store thread, started on first use.
    fn async_store(&self) -> Result<AsyncStore, GatewayError> {
        if let Some(store) = self.async_store.get() {
            return Ok(store.clone());
        }
        let started = AsyncStore::spawn(self.store.clone())?;
        // Two first turns at once: one thread is kept, the other ends with its handle.
        Ok(self.async_store.get_or_init(|| started).clone())
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, SessionSlot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `call` on the store on a blocking thread, so SQLite never holds up a worker.
    async fn with_store<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, hearth_store::StoreError> + Send + 'static,
    ) -> Result<T, GatewayError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|err| GatewayError::Internal(err.to_string()))?
            .map_err(GatewayError::from)
    }
}
