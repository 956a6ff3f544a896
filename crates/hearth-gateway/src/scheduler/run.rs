//! Running one claimed due time of a job: its session (new, or the named one, created on
//! first use), the prompt as a turn through the [`SessionHub`] like any other turn (so
//! `[budget]` and approvals apply), the outcome and tokens recorded on the run row, then
//! the delivery.

use std::sync::Arc;

use hearth_protocol::{AgentEvent, TurnFailure};
use hearth_store::{Job, RunOutcome, RunResult, Store, StoreError};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::clock::store_time;
use super::delivery::{deliver, DeliveryBody, DeliveryTarget};
use super::SchedulerSettings;
use crate::{GatewayError, NewSession, SessionHub, TurnEvent};

/// What a run's turn came to.
struct TurnOutcome {
    result: RunResult,
    session_id: Option<String>,
    text: String,
}

/// Runs claimed run `run_id` (due time `due`) of `job` to the end: turn, record,
/// delivery. Failures are recorded on the run, never returned.
pub(crate) async fn run_claimed(
    hub: &Arc<SessionHub>,
    store: &Arc<Store>,
    job: &Job,
    run_id: i64,
    due: Timestamp,
    settings: &SchedulerSettings,
    cancel: &CancellationToken,
) {
    let outcome = run_turn(hub, store, job, run_id).await;
    let target = job
        .deliver
        .as_deref()
        .and_then(|text| DeliveryTarget::parse(text).ok());
    let result = outcome.result.clone();
    let delivers = target.is_some();
    let recorded = blocking(store, move |store| {
        store.finish_run(run_id, &result, delivers)
    })
    .await;
    if let Err(err) = recorded {
        tracing::warn!(
            "cannot record scheduled run {run_id} of '{}': {err}",
            job.name
        );
    }
    if let Some(target) = target {
        let body = DeliveryBody {
            job: job.name.clone(),
            due: store_time(due),
            session_id: outcome.session_id,
            outcome: outcome.result.outcome,
            text: outcome.text,
        };
        deliver(store, run_id, &target, &body, settings, cancel).await;
    }
}

/// Opens the run's session, marks the run running and runs the prompt as a turn.
async fn run_turn(
    hub: &Arc<SessionHub>,
    store: &Arc<Store>,
    job: &Job,
    run_id: i64,
) -> TurnOutcome {
    let failed = |outcome: RunOutcome, detail: String, session_id: Option<String>| TurnOutcome {
        result: RunResult {
            outcome,
            input_tokens: 0,
            output_tokens: 0,
            detail: detail.clone(),
        },
        session_id,
        text: detail,
    };
    let session_id = match session_for(hub, store, job).await {
        Ok(id) => id,
        Err(GatewayError::ShuttingDown) => {
            return failed(
                RunOutcome::Interrupted,
                "the gateway was stopping".into(),
                None,
            )
        }
        Err(err) => return failed(RunOutcome::Error, format!("no session: {err}"), None),
    };
    let started = {
        let session_id = session_id.clone();
        blocking(store, move |store| store.start_run(run_id, &session_id)).await
    };
    if let Err(err) = started {
        tracing::warn!("cannot mark scheduled run {run_id} running: {err}");
    }
    let mut turn = match hub.start_turn(&session_id, &job.prompt).await {
        Ok(turn) => turn,
        Err(GatewayError::ShuttingDown) => {
            return failed(
                RunOutcome::Interrupted,
                "the gateway was stopping".into(),
                Some(session_id),
            )
        }
        Err(GatewayError::TurnRunning { .. }) => {
            return failed(
                RunOutcome::Skipped,
                format!("the session {session_id} was running another turn"),
                Some(session_id),
            )
        }
        Err(err) => return failed(RunOutcome::Error, err.to_string(), Some(session_id)),
    };
    read_turn(&mut turn.events, session_id).await
}

/// Reads a turn's events to its last one: the outcome, tokens and answer.
async fn read_turn(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<TurnEvent>,
    session_id: String,
) -> TurnOutcome {
    let (mut input_tokens, mut output_tokens) = (0, 0);
    while let Some(event) = events.recv().await {
        let TurnEvent::Agent(event) = event else {
            continue;
        };
        match event {
            AgentEvent::Usage { usage, .. } => {
                input_tokens += usage.input_tokens;
                output_tokens += usage.output_tokens;
            }
            AgentEvent::Final {
                text, end, usage, ..
            } => {
                let outcome = if end.succeeded() {
                    RunOutcome::Ok
                } else if matches!(end, hearth_protocol::TurnEnd::Cancelled) {
                    RunOutcome::Interrupted
                } else {
                    RunOutcome::Error
                };
                let detail = if end.succeeded() {
                    String::new()
                } else {
                    format!("the turn ended without an answer ({end:?})")
                };
                return TurnOutcome {
                    result: RunResult {
                        outcome,
                        input_tokens: usage.input_tokens,
                        output_tokens: usage.output_tokens,
                        detail,
                    },
                    session_id: Some(session_id),
                    text,
                };
            }
            AgentEvent::Error { message, failure } => {
                let outcome = match failure {
                    Some(TurnFailure::Budget) => RunOutcome::Budget,
                    _ => RunOutcome::Error,
                };
                return TurnOutcome {
                    result: RunResult {
                        outcome,
                        input_tokens,
                        output_tokens,
                        detail: message.clone(),
                    },
                    session_id: Some(session_id),
                    text: message,
                };
            }
            _ => {}
        }
    }
    let detail = "the turn ended without a final event".to_string();
    TurnOutcome {
        result: RunResult {
            outcome: RunOutcome::Interrupted,
            input_tokens,
            output_tokens,
            detail: detail.clone(),
        },
        session_id: Some(session_id),
        text: detail,
    }
}

/// The session the run goes to: a new one titled after the job, or the job's named
/// session (created, titled with its name, on first use or when it was deleted).
async fn session_for(
    hub: &Arc<SessionHub>,
    store: &Arc<Store>,
    job: &Job,
) -> Result<String, GatewayError> {
    let Some(name) = job.session_name.clone() else {
        let session = hub
            .create_session(NewSession {
                title: Some(format!("schedule: {}", job.name)),
                ..NewSession::default()
            })
            .await?;
        return Ok(session.id);
    };
    let known = {
        let name = name.clone();
        blocking(store, move |store| store.named_session(&name)).await?
    };
    if let Some(id) = known {
        match hub.session(&id).await {
            Ok(session) => return Ok(session.id),
            Err(GatewayError::SessionNotFound { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    let session = hub
        .create_session(NewSession {
            title: Some(name.clone()),
            ..NewSession::default()
        })
        .await?;
    let id = session.id.clone();
    blocking(store, move |store| store.set_named_session(&name, &id)).await?;
    Ok(session.id)
}

/// Runs `call` on the store on a blocking thread, so SQLite never holds up a worker.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, GatewayError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|err| GatewayError::Internal(err.to_string()))?
        .map_err(GatewayError::from)
}
