//! The scheduler's planning: for each enabled job, its next due time after its cursor;
//! on waking, what to do with the due times that have come. Pure (no clock, no store):
//! the loop passes `now` in and carries the actions out, and tests drive it with any
//! clock they like.
//!
//! Rules, per job, at a wake-up at `now`, with `due` = the due times in (cursor, now]:
//! - none: nothing; the job's next wake-up is its next due time;
//! - exactly one, while running: run it (`schedule`);
//! - on start (the gateway was down at a due time), or more than one (the machine slept
//!   or the clock jumped forward): only the latest counts, by the job's `catch_up`:
//!   `once` runs it (`catch_up`), `skip` records it skipped;
//! - a clock that jumps back runs nothing twice: the cursor (the latest due time
//!   claimed or skipped, kept in the store) only moves forward.

use hearth_schedule::{Schedule, ScheduleError};
use hearth_store::{CatchUp, Job, RunTrigger, ScheduleSpec};
use jiff::Timestamp;

use super::clock::parse_store_time;

/// Due times looked at per job and wake-up before the rest count as missed: bounds the
/// work after a long outage of a frequent job (the latest is still found).
const MAX_DUE_SCAN: usize = 100_000;

/// The [`Schedule`] a stored job runs on.
pub fn schedule_of(spec: &ScheduleSpec) -> Result<Schedule, ScheduleError> {
    match spec {
        ScheduleSpec::Every { duration, anchor } => {
            let anchor = anchor
                .parse::<Timestamp>()
                .map_err(|cause| ScheduleError::BadTime {
                    text: anchor.clone(),
                    cause: cause.to_string(),
                })?;
            Schedule::every(duration, anchor)
        }
        ScheduleSpec::Cron { expr, zone } => Schedule::cron(expr, zone.as_deref()),
        ScheduleSpec::At { time } => Schedule::at(time, Timestamp::UNIX_EPOCH),
    }
}

/// Where a job's due times are counted from: its cursor, or when it was added.
pub fn cursor_of(job: &Job) -> Timestamp {
    let baseline = match &job.schedule {
        ScheduleSpec::Every { anchor, .. } => anchor.as_str(),
        _ => job.created_at.as_str(),
    };
    job.cursor
        .as_deref()
        .and_then(parse_store_time)
        .or_else(|| parse_store_time(baseline))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The next due time of a stored job (`None`: it has none, or it does not parse).
pub fn next_due(job: &Job) -> Option<Timestamp> {
    schedule_of(&job.schedule).ok()?.next_after(cursor_of(job))
}

/// What the loop is to do for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub job_id: i64,
    pub due: Timestamp,
    pub trigger: RunTrigger,
    /// Record the due time as skipped instead of running it.
    pub skip: bool,
}

/// One enabled job as planned.
#[derive(Debug, Clone)]
pub struct Planned {
    pub job: Job,
    schedule: Schedule,
    cursor: Timestamp,
    next: Option<Timestamp>,
}

/// Every enabled job's next due time.
#[derive(Debug, Default)]
pub struct Planner {
    jobs: Vec<Planned>,
    /// The first wake-up after (re)loading counts due times as missed (catch-up).
    starting: bool,
}

impl Planner {
    /// Plans `jobs` (disabled ones and those whose schedule no longer parses are left
    /// out). `starting`: the scheduler has just started, so due times already passed
    /// were missed while it was down.
    pub fn new(jobs: Vec<Job>, starting: bool) -> Self {
        let jobs = jobs
            .into_iter()
            .filter(|job| job.enabled)
            .filter_map(|job| {
                let schedule = match schedule_of(&job.schedule) {
                    Ok(schedule) => schedule,
                    Err(err) => {
                        tracing::warn!("scheduled job '{}' is not planned: {err}", job.name);
                        return None;
                    }
                };
                let cursor = cursor_of(&job);
                let next = schedule.next_after(cursor);
                Some(Planned {
                    job,
                    schedule,
                    cursor,
                    next,
                })
            })
            .collect();
        Self { jobs, starting }
    }

    /// How many jobs are planned.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether no job is planned.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The planned job with this id.
    pub fn job(&self, job_id: i64) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|planned| planned.job.id == job_id)
            .map(|planned| &planned.job)
    }

    /// The earliest next due time over every job (`None`: nothing is ever due).
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.jobs.iter().filter_map(|planned| planned.next).min()
    }

    /// What is due at `now`, by the rules in the module docs; advances each acted-on
    /// job's cursor past it.
    pub fn due(&mut self, now: Timestamp) -> Vec<Action> {
        let starting = std::mem::take(&mut self.starting);
        let mut actions = Vec::new();
        for planned in &mut self.jobs {
            let Some(first) = planned.next.filter(|next| *next <= now) else {
                continue;
            };
            let (latest, count) = latest_due(&planned.schedule, first, now);
            let missed = starting || count > 1;
            let action = match (missed, planned.job.catch_up) {
                (false, _) => Action {
                    job_id: planned.job.id,
                    due: latest,
                    trigger: RunTrigger::Schedule,
                    skip: false,
                },
                (true, CatchUp::Once) => Action {
                    job_id: planned.job.id,
                    due: latest,
                    trigger: RunTrigger::CatchUp,
                    skip: false,
                },
                (true, CatchUp::Skip) => Action {
                    job_id: planned.job.id,
                    due: latest,
                    trigger: RunTrigger::CatchUp,
                    skip: true,
                },
            };
            planned.cursor = latest;
            planned.next = planned.schedule.next_after(latest);
            actions.push(action);
        }
        actions
    }
}

/// The latest due time in `[first, now]` and how many there are. Counting stops at
/// [`MAX_DUE_SCAN`] (it is "many" then); the latest is then found by looking back from
/// `now` over growing windows.
fn latest_due(schedule: &Schedule, first: Timestamp, now: Timestamp) -> (Timestamp, usize) {
    let mut latest = first;
    let mut count = 1;
    while let Some(next) = schedule.next_after(latest).filter(|next| *next <= now) {
        latest = next;
        count += 1;
        if count >= MAX_DUE_SCAN {
            return (latest_looking_back(schedule, latest, now), count);
        }
    }
    (latest, count)
}

/// The latest due time at or before `now`, at least `known` (a due time before it).
fn latest_looking_back(schedule: &Schedule, known: Timestamp, now: Timestamp) -> Timestamp {
    const WINDOWS_SECS: [i64; 5] = [60, 3_600, 86_400, 2_678_400, 31_622_400];
    let mut from = known;
    for window in WINDOWS_SECS {
        let start = now
            .checked_sub(jiff::SignedDuration::from_secs(window))
            .unwrap_or(known);
        if start > known && schedule.next_after(start).is_some_and(|next| next <= now) {
            from = start;
            break;
        }
    }
    let mut latest = schedule
        .next_after(from)
        .filter(|next| *next <= now)
        .unwrap_or(known);
    while let Some(next) = schedule.next_after(latest).filter(|next| *next <= now) {
        latest = next;
    }
    latest.max(known)
}
