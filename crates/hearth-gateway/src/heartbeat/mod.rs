//! The heartbeat: every `[heartbeat] every`, run the probes in the sandbox and wake the
//! model only when there is news; a tick with none makes no model call.
//!
//! News is a probe whose output changed since the last tick that took it in (exit 0),
//! or one that exited 2 ("attention"); see [`probes`] for the exit statuses. The first
//! output a probe ever gives is its baseline, not news. With no probes configured there
//! is nothing cheap to check, so every tick wakes the model. A woken tick runs the
//! prompt in `prompts/heartbeat.md` (the news, then the workspace's checklist file) as
//! a turn in a new session titled `heartbeat`, through the [`SessionHub`] like any other
//! turn (so `[budget]` and approvals apply). A probe's output is outside text
//! (`hearth_tools::wrap_outside_text`): the turn counts as tainted, and what the output
//! names is not the person's word to the injection policy. Every tick is recorded (`hearth heartbeat
//! history`); a probe's new hash is kept only once its news was delivered to the model
//! (a failed turn leaves it, so the next tick tries again).
//!
//! One task sleeps between ticks (`tokio::time::interval`; no polling). `hearth serve`
//! starts it when `every` is set; `hearth heartbeat run-once` runs one [`tick`].

pub mod probes;

use std::sync::Arc;
use std::time::Duration;

use hearth_protocol::AgentEvent;
use hearth_runtime::config::HeartbeatConfig;
use hearth_runtime::Resolved;
use hearth_store::{HeartbeatTick, NewTick, Store, TickOutcome};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::scheduler::store_time;
use crate::{GatewayError, NewSession, SessionHub, TurnEvent};
use probes::{run_probes, ProbeReport, ProbeSandbox, ProbeStatus};

/// The prompt a woken tick sends: `{news}`, `{checklist_path}`, `{checklist}`.
pub const HEARTBEAT_PROMPT: &str = include_str!("../../prompts/heartbeat.md");

/// Everything a tick needs.
pub struct Heartbeat {
    hub: Arc<SessionHub>,
    store: Arc<Store>,
    config: HeartbeatConfig,
    sandbox: ProbeSandbox,
    /// The checklist file, resolved inside the workspace (`None`: it cannot be read
    /// there).
    checklist: Option<std::path::PathBuf>,
}

impl Heartbeat {
    /// The heartbeat of `runtime`'s `[heartbeat]`, running turns through `hub`.
    pub fn new(
        runtime: &Resolved,
        hub: Arc<SessionHub>,
        store: Arc<Store>,
    ) -> Result<Self, GatewayError> {
        Self::with_config(runtime, hub, store, runtime.config.heartbeat.clone())
    }

    /// The heartbeat of `config` (instead of the runtime's `[heartbeat]`).
    pub fn with_config(
        runtime: &Resolved,
        hub: Arc<SessionHub>,
        store: Arc<Store>,
        config: HeartbeatConfig,
    ) -> Result<Self, GatewayError> {
        let env = runtime
            .command_env()
            .map_err(|err| GatewayError::Internal(err.to_string()))?;
        let sandbox = ProbeSandbox {
            policy: runtime.sandbox.clone(),
            mechanism: runtime.env.sandbox.clone(),
            env,
            timeout: config.probe_timeout,
        };
        // Read through the file tools' checks: inside the workspace, not private.
        let checklist = runtime
            .tool_context(CancellationToken::new())
            .ok()
            .and_then(|ctx| ctx.resolve_read(&config.checklist).ok());
        Ok(Self {
            hub,
            store,
            config,
            sandbox,
            checklist,
        })
    }

    /// How often it ticks (`None`: `[heartbeat] every` is not set).
    pub fn every(&self) -> Option<Duration> {
        self.config.every
    }

    /// One tick: probes, the decision, a turn when there is news, the record.
    pub async fn tick(&self, cancel: &CancellationToken) -> Result<HeartbeatTick, GatewayError> {
        let started_at = store_time(Timestamp::now());
        let reports = run_probes(&self.sandbox, &self.config.probes, cancel).await;
        let known = blocking(&self.store, |store| store.probe_hashes()).await?;
        let news = Decision::of(&reports, &known);
        let mut tick = NewTick {
            started_at,
            outcome: TickOutcome::Quiet,
            changed: news.changed.clone(),
            attention: news.attention.clone(),
            session_id: None,
            input_tokens: 0,
            output_tokens: 0,
            detail: news.failures.join("; "),
        };
        let mut hashes = news.baselines.clone();
        if news.wakes(self.config.probes.is_empty()) {
            let prompt = self.prompt(&reports, &news).await;
            let woken = self.wake(&prompt).await;
            tick.session_id = woken.session_id;
            tick.input_tokens = woken.input_tokens;
            tick.output_tokens = woken.output_tokens;
            match woken.error {
                None => {
                    tick.outcome = TickOutcome::Woke;
                    hashes.extend(news.delivered.iter().cloned());
                }
                Some(error) => {
                    tick.outcome = TickOutcome::Failed;
                    tick.detail = join_detail(&tick.detail, &error);
                }
            }
        }
        blocking(&self.store, move |store| {
            store.record_heartbeat_tick(&tick, &hashes)
        })
        .await
    }

    /// The wake prompt: each probe with news and its output, then the checklist.
    async fn prompt(&self, reports: &[ProbeReport], news: &Decision) -> String {
        let mut lines = Vec::new();
        for report in reports {
            let why = if news.attention.contains(&report.name) {
                "asks for attention"
            } else if news.changed.contains(&report.name) {
                "changed"
            } else {
                continue;
            };
            // Outside text carried in the message: it taints the turn, and the hosts
            // it names are not the person's (`hearth_agent::TurnTaint`).
            lines.push(format!(
                "- probe {} {why}; its output:\n{}",
                report.name,
                hearth_tools::wrap_outside_text(
                    &format!("probe:{}", report.name),
                    &report.shown_output()
                )
            ));
        }
        if lines.is_empty() {
            lines.push("- (no probes are configured: this is a scheduled check)".into());
        }
        let checklist = match &self.checklist {
            Some(path) => tokio::fs::read_to_string(path)
                .await
                .unwrap_or_else(|_| "(the checklist file cannot be read)".into()),
            None => "(there is no checklist file in the workspace)".into(),
        };
        render_prompt(&lines.join("\n"), &self.config.checklist, checklist.trim())
    }

    /// Runs `prompt` as a turn in a new `heartbeat` session.
    async fn wake(&self, prompt: &str) -> Woken {
        let mut woken = Woken::default();
        let session = match self
            .hub
            .create_session(NewSession {
                title: Some("heartbeat".into()),
                ..NewSession::default()
            })
            .await
        {
            Ok(session) => session,
            Err(err) => {
                woken.error = Some(format!("no session: {err}"));
                return woken;
            }
        };
        woken.session_id = Some(session.id.clone());
        let mut turn = match self.hub.start_turn(&session.id, prompt).await {
            Ok(turn) => turn,
            Err(err) => {
                woken.error = Some(err.to_string());
                return woken;
            }
        };
        while let Some(event) = turn.events.recv().await {
            match event {
                TurnEvent::Agent(AgentEvent::Usage { usage, .. }) => {
                    woken.input_tokens += usage.input_tokens;
                    woken.output_tokens += usage.output_tokens;
                }
                TurnEvent::Agent(AgentEvent::Final { end, usage, .. }) => {
                    woken.input_tokens = usage.input_tokens;
                    woken.output_tokens = usage.output_tokens;
                    if !end.succeeded() {
                        woken.error = Some(format!("the turn ended without an answer ({end:?})"));
                    }
                    return woken;
                }
                TurnEvent::Agent(AgentEvent::Error { message, .. }) => {
                    woken.error = Some(message);
                    return woken;
                }
                _ => {}
            }
        }
        woken.error = Some("the turn ended without a final event".into());
        woken
    }
}

/// The wake prompt with its parts filled in.
pub fn render_prompt(news: &str, checklist_path: &str, checklist: &str) -> String {
    HEARTBEAT_PROMPT
        .replace("{checklist_path}", checklist_path)
        .replace("{checklist}", checklist)
        .replace("{news}", news)
        .trim_end()
        .to_string()
}

fn join_detail(first: &str, second: &str) -> String {
    if first.is_empty() {
        second.to_string()
    } else {
        format!("{first}; {second}")
    }
}

/// What a woken tick's turn came to.
#[derive(Debug, Default)]
struct Woken {
    session_id: Option<String>,
    input_tokens: u64,
    output_tokens: u64,
    error: Option<String>,
}

/// What the probes' results mean against the hashes of the last tick.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    /// Exit 0 with output other than last time.
    pub changed: Vec<String>,
    /// Exit 2.
    pub attention: Vec<String>,
    /// `probe: why` for each failed probe.
    pub failures: Vec<String>,
    /// First outputs ever seen: kept whatever happens, never news.
    pub baselines: Vec<(String, String)>,
    /// The hashes of the news, kept once the model has taken it in.
    pub delivered: Vec<(String, String)>,
}

impl Decision {
    pub fn of(
        reports: &[ProbeReport],
        known: &std::collections::BTreeMap<String, String>,
    ) -> Decision {
        let mut decision = Decision::default();
        for report in reports {
            let hash = (report.name.clone(), report.hash.clone());
            match &report.status {
                ProbeStatus::Fine => match known.get(&report.name) {
                    None => decision.baselines.push(hash),
                    Some(last) if *last != report.hash => {
                        decision.changed.push(report.name.clone());
                        decision.delivered.push(hash);
                    }
                    Some(_) => {}
                },
                ProbeStatus::Attention => {
                    decision.attention.push(report.name.clone());
                    decision.delivered.push(hash);
                }
                ProbeStatus::NoNews => {}
                ProbeStatus::Failed(why) => {
                    decision
                        .failures
                        .push(format!("probe {}: {why}", report.name));
                }
            }
        }
        decision
    }

    /// Whether the tick wakes the model: news, or no probes at all.
    pub fn wakes(&self, no_probes: bool) -> bool {
        no_probes || !self.changed.is_empty() || !self.attention.is_empty()
    }
}

/// The running heartbeat: stop it with [`shut_down`](Self::shut_down).
pub struct HeartbeatHandle {
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl HeartbeatHandle {
    /// Stops ticking; a tick in progress gets `grace` to record itself.
    pub async fn shut_down(&self, grace: Duration) {
        self.cancel.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(grace, self.tasks.wait()).await;
    }
}

/// Starts ticking every `[heartbeat] every` (the first tick at once); `None` when no
/// `every` is set. It stops with the handle or when the hub begins to close.
pub fn start(heartbeat: Heartbeat) -> Option<HeartbeatHandle> {
    let every = heartbeat.every()?;
    let cancel = heartbeat.hub.closing().child_token();
    let tasks = TaskTracker::new();
    let loop_cancel = cancel.clone();
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = loop_cancel.cancelled() => return,
                _ = interval.tick() => {}
            }
            match heartbeat.tick(&loop_cancel).await {
                Ok(tick) => tracing::debug!(outcome = ?tick.outcome, "heartbeat tick"),
                Err(err) => tracing::warn!("heartbeat tick failed: {err}"),
            }
        }
    });
    Some(HeartbeatHandle { cancel, tasks })
}

/// Runs `call` on the store on a blocking thread.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    call: impl FnOnce(&Store) -> Result<T, hearth_store::StoreError> + Send + 'static,
) -> Result<T, GatewayError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|err| GatewayError::Internal(err.to_string()))?
        .map_err(GatewayError::from)
}

#[cfg(test)]
mod tests;
