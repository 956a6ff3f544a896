//! The scheduler: runs each job's due times exactly once, from inside the gateway.
//!
//! One task. It plans every enabled job's next due time ([`plan`]), sleeps until the
//! earliest (one `sleep_until`; no timer per job and no pass over the jobs while
//! nothing is due), then for each due job **claims the run in the database first**
//! ([`Store::claim_run`]: a due time is claimed at most once, by any process) and only
//! then runs the prompt as a turn through the [`SessionHub`] ([`run`]), records the
//! outcome and tokens, and delivers ([`delivery`]).
//!
//! Noticing changes: the CLI (another process) writes jobs straight to SQLite and bumps
//! `jobs_version`. Once a second the scheduler reads that one-row counter (one indexed
//! read of a 1-row table, on a blocking thread: tens of microseconds), and replans when
//! it moved; the same tick compares the wall clock with the monotonic clock, so a wall
//! clock that jumps is noticed within a second. In-process writers (the model's
//! schedule tools) call [`SchedulerHandle::notify_changed`] to replan at once. A
//! `PRAGMA data_version` check was the alternative; it only sees other connections'
//! commits, and in-process writers share the gateway's connection.
//!
//! On start, runs left `claimed` or `running` by a gateway that died are marked
//! `interrupted` (never re-run), and due times missed while it was down are caught up
//! per job (`once`: the latest runs once; `skip`: recorded skipped). One run of a job
//! at a time: a due time that comes while the previous run still runs is recorded
//! `skipped`. `hearth schedule run NAME` sets a request on the job; the scheduler takes
//! it (in one transaction with its claim) on its next tick.

mod chat_delivery;
mod clock;
mod delivery;
mod plan;
mod run;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hearth_store::{Job, JobRun, Store};
use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use clock::{parse_store_time, store_time, Clock, ManualClock, Sleep, SystemClock};
pub use delivery::{DeliveryBody, DeliveryTarget};
pub use plan::{cursor_of, next_due, schedule_of, Action, Planner};

use crate::{GatewayError, SessionHub};
use run::blocking;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often the scheduler checks for jobs changed by another process (and for a
    /// wall clock that jumped).
    pub change_check: Duration,
    /// Delays between webhook delivery attempts: one attempt, then one more after each.
    pub delivery_backoff: Vec<Duration>,
    /// How long running jobs get to finish recording when the scheduler stops.
    pub stop_grace: Duration,
    /// The running chat channels, for `--deliver NAME:CHAT` ([`RunningChannels`]'s
    /// directory; empty outside a gateway, where such a delivery is recorded failed).
    ///
    /// [`RunningChannels`]: crate::RunningChannels
    pub channels: Arc<hearth_channels::ChannelDirectory>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            change_check: Duration::from_secs(1),
            delivery_backoff: vec![
                Duration::from_secs(1),
                Duration::from_secs(4),
                Duration::from_secs(16),
            ],
            stop_grace: Duration::from_secs(15),
            channels: Arc::default(),
        }
    }
}

/// The running scheduler: stop it with [`shut_down`](Self::shut_down).
pub struct SchedulerHandle {
    changed: Arc<Notify>,
    cancel: CancellationToken,
    tasks: TaskTracker,
    grace: Duration,
}

impl SchedulerHandle {
    /// Replans at once (after an in-process change to the jobs).
    pub fn notify_changed(&self) {
        self.changed.notify_one();
    }

    /// Stops planning, lets running jobs record their outcome (their turns end when the
    /// gateway cancels them) within the grace, and returns.
    pub async fn shut_down(&self) {
        self.cancel.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(self.grace, self.tasks.wait()).await;
    }
}

/// What the scheduler's task and its runs share.
struct Shared {
    hub: Arc<SessionHub>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    settings: SchedulerSettings,
    /// Jobs with a run in progress.
    running: Mutex<HashSet<i64>>,
    tasks: TaskTracker,
    cancel: CancellationToken,
}

/// Starts the scheduler over `hub`'s sessions and `store`'s jobs; it stops when
/// [`SchedulerHandle::shut_down`] is called or the hub begins to close.
pub async fn start(
    hub: Arc<SessionHub>,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    settings: SchedulerSettings,
) -> Result<SchedulerHandle, GatewayError> {
    let interrupted = blocking(&store, |store| store.interrupt_unfinished_runs()).await?;
    if interrupted > 0 {
        tracing::warn!("{interrupted} scheduled run(s) were interrupted by a stop; not re-run");
    }
    let cancel = hub.closing().child_token();
    let tasks = TaskTracker::new();
    let changed = Arc::new(Notify::new());
    let grace = settings.stop_grace;
    let shared = Arc::new(Shared {
        hub,
        store,
        clock,
        settings,
        running: Mutex::new(HashSet::new()),
        tasks: tasks.clone(),
        cancel: cancel.clone(),
    });
    // The first plan (and the catch-up of what was missed while no gateway ran) is made
    // before returning, against the time of the start.
    let (mut planner, version) = shared.load(true).await?;
    for action in planner.due(shared.clock.now()) {
        shared.act(&planner, action).await;
    }
    let loop_changed = changed.clone();
    tasks.spawn(async move { shared.run_loop(loop_changed, planner, version).await });
    Ok(SchedulerHandle {
        changed,
        cancel,
        tasks,
        grace,
    })
}

impl Shared {
    /// Plans, sleeps until the earliest due time, acts; replans on a change.
    async fn run_loop(
        self: Arc<Self>,
        changed: Arc<Notify>,
        mut planner: Planner,
        mut version: i64,
    ) {
        let mut tick = tokio::time::interval(self.settings.change_check);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            for action in planner.due(self.clock.now()) {
                self.act(&planner, action).await;
            }
            let sleep: Sleep = match planner.next_wake() {
                Some(at) => self.clock.sleep_until(at),
                None => Box::pin(std::future::pending()),
            };
            tokio::pin!(sleep);
            let mut wall = (self.clock.now(), Instant::now());
            let replan = loop {
                tokio::select! {
                    () = self.cancel.cancelled() => return,
                    () = &mut sleep => break false,
                    () = changed.notified() => break true,
                    _ = tick.tick() => {
                        match blocking(&self.store, |store| store.jobs_version()).await {
                            Ok(now) if now != version => break true,
                            Ok(_) => {}
                            Err(err) => tracing::warn!("the scheduler cannot check for changes: {err}"),
                        }
                        if clock_jumped(&*self.clock, &mut wall) {
                            break false;
                        }
                    }
                }
            };
            tracing::debug!(replan, jobs = planner.len(), "the scheduler woke");
            if replan {
                match self.load(false).await {
                    Ok((replanned, read_at)) => (planner, version) = (replanned, read_at),
                    Err(err) => tracing::warn!("the scheduler cannot read its jobs: {err}"),
                }
            }
        }
    }

    /// The enabled jobs, planned, and the version they were read at; run requests found
    /// are taken at once.
    async fn load(self: &Arc<Self>, starting: bool) -> Result<(Planner, i64), GatewayError> {
        let (version, jobs) = blocking(&self.store, |store| {
            Ok((store.jobs_version()?, store.list_jobs()?))
        })
        .await?;
        for job in jobs.iter().filter(|job| job.run_requested.is_some()) {
            self.take_run_request(job.clone()).await;
        }
        Ok((Planner::new(jobs, starting), version))
    }

    /// Claims (or skips) one due time, then runs it on a task of its own.
    async fn act(self: &Arc<Self>, planner: &Planner, action: Action) {
        let Some(job) = planner.job(action.job_id).cloned() else {
            return;
        };
        let due = store_time(action.due);
        let busy = self.is_running(job.id);
        if action.skip || busy {
            let reason = if busy {
                "the previous run was still running"
            } else {
                "missed while no gateway ran (catch_up = skip)"
            };
            let (id, trigger) = (job.id, action.trigger);
            let reason = reason.to_string();
            if let Err(err) = blocking(&self.store, move |store| {
                store.skip_run(id, &due, trigger, &reason)
            })
            .await
            {
                tracing::warn!("cannot record a skipped run of '{}': {err}", job.name);
            }
            return;
        }
        let (id, trigger) = (job.id, action.trigger);
        let claim = blocking(&self.store, move |store| store.claim_run(id, &due, trigger)).await;
        match claim {
            Ok(Some(run_id)) => self.spawn_run(job, run_id, action.due),
            Ok(None) => tracing::debug!("'{}' due {} was claimed already", job.name, action.due),
            Err(err) => tracing::warn!("cannot claim a run of '{}': {err}", job.name),
        }
    }

    /// Takes `job`'s `hearth schedule run` request (claiming it) and runs it.
    async fn take_run_request(self: &Arc<Self>, job: Job) {
        if self.is_running(job.id) {
            return;
        }
        let id = job.id;
        match blocking(&self.store, move |store| store.take_run_request(id)).await {
            Ok(Some((due, run_id))) => {
                let due = parse_store_time(&due).unwrap_or_else(|| self.clock.now());
                self.spawn_run(job, run_id, due);
            }
            Ok(None) => {}
            Err(err) => tracing::warn!("cannot take the run request of '{}': {err}", job.name),
        }
    }

    fn spawn_run(self: &Arc<Self>, job: Job, run_id: i64, due: Timestamp) {
        self.running_jobs().insert(job.id);
        let shared = Arc::clone(self);
        self.tasks.spawn(async move {
            run::run_claimed(
                &shared.hub,
                &shared.store,
                &job,
                run_id,
                due,
                &shared.settings,
                &shared.cancel,
            )
            .await;
            shared.running_jobs().remove(&job.id);
        });
    }

    fn is_running(&self, job_id: i64) -> bool {
        self.running_jobs().contains(&job_id)
    }

    fn running_jobs(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether the wall clock moved more than a second away from the monotonic clock since
/// `last` (then `last` is reset).
fn clock_jumped(clock: &dyn Clock, last: &mut (Timestamp, Instant)) -> bool {
    let now = (clock.now(), Instant::now());
    let wall = now.0.duration_since(last.0).as_secs_f64();
    let monotonic = now.1.duration_since(last.1).as_secs_f64();
    *last = now;
    (wall - monotonic).abs() > 1.0
}

/// Runs `job` now, in this process, as a manual run due at `due` (`hearth schedule run`
/// when no gateway took the request): claims it, runs the turn through `hub`, records
/// the outcome and delivers. `None` when that due time was claimed already.
pub async fn run_now(
    hub: &Arc<SessionHub>,
    store: &Arc<Store>,
    job: &Job,
    due: Timestamp,
    settings: &SchedulerSettings,
) -> Result<Option<JobRun>, GatewayError> {
    let (id, due_text) = (job.id, store_time(due));
    let claimed = blocking(store, move |store| store.claim_manual_run(id, &due_text)).await?;
    let Some(run_id) = claimed else {
        return Ok(None);
    };
    run::run_claimed(
        hub,
        store,
        job,
        run_id,
        due,
        settings,
        &CancellationToken::new(),
    )
    .await;
    blocking(store, move |store| store.job_run(run_id)).await
}

#[cfg(test)]
mod tests;
