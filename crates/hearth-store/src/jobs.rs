//! Scheduled jobs and their runs: what the scheduler claims, records and shows.
//!
//! A job is stored as the user wrote it (the schedule's kind, expression, zone and
//! anchor as text); parsing and computing due times belong to `hearth-schedule`, and
//! running them to the gateway's scheduler. This module keeps the one promise that needs
//! the database: **a due time runs at most once**. [`Store::claim_run`] inserts the run
//! row (UNIQUE job and due time) and advances the job's cursor in one transaction, before
//! anything runs; a second claim of the same due time, from any process, gets `None`.
//!
//! Times are UTC text with milliseconds (`2026-12-05T08:00:00.000Z`), the form SQLite's
//! `strftime('%Y-%m-%dT%H:%M:%fZ')` writes, so they sort as text. Callers format them.
//!
//! Every change to a job's definition (add, remove, pause, resume, a run request) bumps
//! [`Store::jobs_version`], which a running gateway reads once a second to notice changes
//! made by another process (the CLI).

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::AtDatabase;
use crate::{Store, StoreError};

/// The current time as SQLite writes it (UTC, milliseconds).
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Who created a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOrigin {
    /// `hearth schedule add`.
    Cli,
    /// The model, through the `schedule_create` tool.
    Model,
    /// The gateway's HTTP API.
    Api,
}

/// What to do with due times missed while no scheduler ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run the latest missed due time once.
    #[default]
    Once,
    /// Run none of them: record the latest as skipped and wait for the next.
    Skip,
}

/// The state of one run; `Claimed` and `Running` are the only unfinished ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The due time is taken; the turn has not started.
    Claimed,
    /// The turn is running in `session_id`.
    Running,
    /// The turn ended with an answer.
    Ok,
    /// The turn failed or ended without an answer (`detail` says why).
    Error,
    /// The process running it died or stopped first; never re-run.
    Interrupted,
    /// Not run: a missed time with `catch_up = skip`, or the previous run still running.
    Skipped,
    /// Stopped by a `[budget]` limit before a model call.
    Budget,
}

/// How the run came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// Its due time came while the scheduler ran.
    Schedule,
    /// A due time missed while no scheduler ran, caught up on start.
    CatchUp,
    /// `hearth schedule run`.
    Manual,
}

/// Whether a run's answer reached its `--deliver` target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The job has no target.
    None,
    /// Not delivered yet (or the process stopped while retrying).
    Pending,
    Delivered,
    /// Every attempt failed; `delivery_error` has the last error.
    Failed,
}

/// A schedule as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleSpec {
    /// `--every DURATION`, counted from `anchor` (UTC time text).
    Every { duration: String, anchor: String },
    /// `--cron EXPR` in `zone` (an IANA name; `None`: the system's zone).
    Cron { expr: String, zone: Option<String> },
    /// `--at TIME`, resolved to a UTC time text.
    At { time: String },
}

/// A job to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub name: String,
    pub schedule: ScheduleSpec,
    pub prompt: String,
    /// Run in this named session (created on first use); `None`: a new session each run.
    pub session_name: Option<String>,
    /// Where the answer also goes (`https://…` webhook); checked by the caller.
    pub deliver: Option<String>,
    pub catch_up: CatchUp,
    pub origin: JobOrigin,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub name: String,
    pub schedule: ScheduleSpec,
    pub prompt: String,
    pub session_name: Option<String>,
    pub deliver: Option<String>,
    pub catch_up: CatchUp,
    pub origin: JobOrigin,
    pub enabled: bool,
    /// Every due time at or before this one was claimed or skipped (`None`: none yet).
    pub cursor: Option<String>,
    /// When `hearth schedule run` asked a gateway to run the job now, until one takes it.
    pub run_requested: Option<String>,
    pub created_at: String,
}

/// One run of a job, as `hearth schedule history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub due: String,
    pub trigger: RunTrigger,
    pub outcome: RunOutcome,
    pub claimed_at: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub session_id: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Why it failed, was skipped or interrupted; empty otherwise.
    pub detail: String,
    pub delivery: DeliveryStatus,
    pub delivery_attempts: i64,
    pub delivery_error: String,
}

/// How a run ended, for [`Store::finish_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub outcome: RunOutcome,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub detail: String,
}

const JOB_COLUMNS: &str = "id, name, schedule_kind, schedule_expr, zone, anchor, prompt,
    session_name, deliver, catch_up, origin, enabled, cursor, run_requested, created_at";

const RUN_COLUMNS: &str = "r.id, j.name, r.due, r.trigger, r.outcome, r.claimed_at,
    r.started_at, r.ended_at, r.session_id, r.input_tokens, r.output_tokens, r.detail,
    r.delivery, r.delivery_attempts, r.delivery_error";

impl Store {
    /// Adds a job; a name already taken is [`StoreError::JobExists`].
    pub fn add_job(&self, job: &NewJob) -> Result<Job, StoreError> {
        let (kind, expr, zone, anchor) = match &job.schedule {
            ScheduleSpec::Every { duration, anchor } => ("every", duration, None, anchor.clone()),
            ScheduleSpec::Cron { expr, zone } => ("cron", expr, zone.as_ref(), String::new()),
            ScheduleSpec::At { time } => ("at", time, None, String::new()),
        };
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        if job_by_name(&tx, &job.name).at(self.path())?.is_some() {
            return Err(StoreError::JobExists {
                name: job.name.clone(),
            });
        }
        let sql = format!(
            "INSERT INTO jobs (name, schedule_kind, schedule_expr, zone, anchor, prompt,
                 session_name, deliver, catch_up, origin, created_at)
             VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 = '' THEN {NOW} ELSE ?5 END, ?6, ?7, ?8, ?9,
                 ?10, {NOW})"
        );
        tx.execute(
            &sql,
            params![
                job.name,
                kind,
                expr,
                zone,
                anchor,
                job.prompt,
                job.session_name,
                job.deliver,
                catch_up_sql(job.catch_up),
                origin_sql(job.origin),
            ],
        )
        .at(self.path())?;
        bump_version(&tx).at(self.path())?;
        let added = job_by_name(&tx, &job.name).at(self.path())?;
        tx.commit().at(self.path())?;
        added.ok_or_else(|| StoreError::JobNotFound {
            name: job.name.clone(),
        })
    }

    /// Every job, by name.
    pub fn list_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let connection = self.connection();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY name");
        let mut statement = connection.prepare_cached(&sql).at(self.path())?;
        let rows = statement
            .query_map([], job_from_row)
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// The job called `name`.
    pub fn job(&self, name: &str) -> Result<Job, StoreError> {
        let connection = self.connection();
        job_by_name(&connection, name)
            .at(self.path())?
            .ok_or_else(|| StoreError::JobNotFound {
                name: name.to_string(),
            })
    }

    /// Removes the job and its run history.
    pub fn remove_job(&self, name: &str) -> Result<(), StoreError> {
        self.change_job(name, "DELETE FROM jobs WHERE name = ?1")
    }

    /// Stops the job from running until [`resume_job`](Self::resume_job).
    pub fn pause_job(&self, name: &str) -> Result<(), StoreError> {
        self.change_job(name, "UPDATE jobs SET enabled = 0 WHERE name = ?1")
    }

    /// Lets a paused job run again. Due times that passed while it was paused are not
    /// caught up: its cursor moves to `now` (UTC time text).
    pub fn resume_job(&self, name: &str, now: &str) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let changed = tx
            .execute(
                "UPDATE jobs SET enabled = 1,
                     cursor = CASE WHEN enabled = 0 AND (cursor IS NULL OR cursor < ?2)
                                   THEN ?2 ELSE cursor END
                 WHERE name = ?1",
                params![name, now],
            )
            .at(self.path())?;
        self.finish_change(tx, name, changed)
    }

    /// Asks a running gateway to run the job now: it takes the request (see
    /// [`take_run_request`](Self::take_run_request)) within about a second.
    pub fn request_run(&self, name: &str, at: &str) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let changed = tx
            .execute(
                "UPDATE jobs SET run_requested = ?2 WHERE name = ?1",
                params![name, at],
            )
            .at(self.path())?;
        self.finish_change(tx, name, changed)
    }

    /// Takes back a run request nobody took; `true` when it was still there (so the
    /// caller now owns it), `false` when a gateway took it first.
    pub fn withdraw_run_request(&self, name: &str, at: &str) -> Result<bool, StoreError> {
        let connection = self.connection();
        let changed = connection
            .execute(
                "UPDATE jobs SET run_requested = NULL WHERE name = ?1 AND run_requested = ?2",
                params![name, at],
            )
            .at(self.path())?;
        Ok(changed == 1)
    }

    /// Takes the job's pending run request and claims it as a manual run (its due time
    /// is the request's time) in one transaction. `None`: no request, or taken already.
    pub fn take_run_request(&self, job_id: i64) -> Result<Option<(String, i64)>, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let requested: Option<String> = tx
            .query_row(
                "SELECT run_requested FROM jobs WHERE id = ?1",
                [job_id],
                |row| row.get(0),
            )
            .optional()
            .at(self.path())?
            .flatten();
        let Some(due) = requested else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE jobs SET run_requested = NULL WHERE id = ?1",
            [job_id],
        )
        .at(self.path())?;
        let run = insert_run(
            &tx,
            job_id,
            &due,
            RunTrigger::Manual,
            RunOutcome::Claimed,
            "",
        )
        .at(self.path())?;
        tx.commit().at(self.path())?;
        Ok(run.map(|id| (due, id)))
    }

    /// Claims due time `due` of job `job_id` before running it: inserts the run row and
    /// moves the job's cursor to `due`, in one transaction. `None` when that due time
    /// was claimed already (by this process or another): do not run it.
    pub fn claim_run(
        &self,
        job_id: i64,
        due: &str,
        trigger: RunTrigger,
    ) -> Result<Option<i64>, StoreError> {
        self.insert_run_advancing(job_id, due, trigger, RunOutcome::Claimed, "")
    }

    /// Claims a manual run (`hearth schedule run`) due at `due`, which leaves the job's
    /// cursor where it is. `None` when that due time was claimed already.
    pub fn claim_manual_run(&self, job_id: i64, due: &str) -> Result<Option<i64>, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let run = insert_run(
            &tx,
            job_id,
            due,
            RunTrigger::Manual,
            RunOutcome::Claimed,
            "",
        )
        .at(self.path())?;
        tx.commit().at(self.path())?;
        Ok(run)
    }

    /// Records due time `due` as skipped (not run, for `reason`) and moves the cursor
    /// to it. `false` when that due time was claimed already.
    pub fn skip_run(
        &self,
        job_id: i64,
        due: &str,
        trigger: RunTrigger,
        reason: &str,
    ) -> Result<bool, StoreError> {
        self.insert_run_advancing(job_id, due, trigger, RunOutcome::Skipped, reason)
            .map(|run| run.is_some())
    }

    /// Moves the job's cursor to `due` without a run (due times a catch-up passes over).
    pub fn advance_cursor(&self, job_id: i64, due: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                "UPDATE jobs SET cursor = ?2 WHERE id = ?1 AND (cursor IS NULL OR cursor < ?2)",
                params![job_id, due],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Marks the claimed run as running in `session_id`.
    pub fn start_run(&self, run_id: i64, session_id: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        let sql = format!(
            "UPDATE job_runs SET outcome = 'running', session_id = ?2, started_at = {NOW}
             WHERE id = ?1"
        );
        connection
            .execute(&sql, params![run_id, session_id])
            .at(self.path())?;
        Ok(())
    }

    /// Records how the run ended; with a delivery target, the delivery is `pending`.
    pub fn finish_run(
        &self,
        run_id: i64,
        result: &RunResult,
        delivers: bool,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        let sql = format!(
            "UPDATE job_runs SET outcome = ?2, input_tokens = ?3, output_tokens = ?4,
                 detail = ?5, ended_at = {NOW}, delivery = ?6 WHERE id = ?1"
        );
        connection
            .execute(
                &sql,
                params![
                    run_id,
                    outcome_sql(result.outcome),
                    i64::try_from(result.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(result.output_tokens).unwrap_or(i64::MAX),
                    result.detail,
                    if delivers { "pending" } else { "none" },
                ],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Records a delivery attempt: `status` after `attempts` tries, and the last error.
    pub fn record_run_delivery(
        &self,
        run_id: i64,
        status: DeliveryStatus,
        attempts: u32,
        error: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                "UPDATE job_runs SET delivery = ?2, delivery_attempts = ?3, delivery_error = ?4
                 WHERE id = ?1",
                params![run_id, delivery_sql(status), attempts, error],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Marks every run left `claimed` or `running` (its process died) as `interrupted`;
    /// they are never re-run. Called when a scheduler starts. Returns how many.
    pub fn interrupt_unfinished_runs(&self) -> Result<usize, StoreError> {
        let connection = self.connection();
        let sql = format!(
            "UPDATE job_runs SET outcome = 'interrupted', ended_at = {NOW},
                 detail = 'the process running it stopped before it finished; not re-run'
             WHERE outcome IN ('claimed', 'running')"
        );
        connection.execute(&sql, []).at(self.path())
    }

    /// The job's runs, the latest due time first, at most `limit`.
    pub fn job_history(&self, name: &str, limit: usize) -> Result<Vec<JobRun>, StoreError> {
        let job = self.job(name)?;
        let connection = self.connection();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs r JOIN jobs j ON j.id = r.job_id
             WHERE r.job_id = ?1 ORDER BY r.due DESC, r.id DESC LIMIT ?2"
        );
        let mut statement = connection.prepare_cached(&sql).at(self.path())?;
        let rows = statement
            .query_map(
                params![job.id, i64::try_from(limit).unwrap_or(i64::MAX)],
                run_from_row,
            )
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// The run with this id.
    pub fn job_run(&self, run_id: i64) -> Result<Option<JobRun>, StoreError> {
        let connection = self.connection();
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM job_runs r JOIN jobs j ON j.id = r.job_id WHERE r.id = ?1"
        );
        connection
            .query_row(&sql, [run_id], run_from_row)
            .optional()
            .at(self.path())
    }

    /// The latest run of each job (for listings), by job id.
    pub fn last_runs(&self) -> Result<Vec<(i64, JobRun)>, StoreError> {
        let connection = self.connection();
        let sql = format!(
            "SELECT r.job_id, {RUN_COLUMNS} FROM job_runs r JOIN jobs j ON j.id = r.job_id
             WHERE r.id = (SELECT r2.id FROM job_runs r2 WHERE r2.job_id = r.job_id
                           ORDER BY r2.due DESC, r2.id DESC LIMIT 1)"
        );
        let mut statement = connection.prepare_cached(&sql).at(self.path())?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, run_from_row_at(row, 1)?)))
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// The counter every change to a job's definition bumps (see the module docs).
    pub fn jobs_version(&self) -> Result<i64, StoreError> {
        let connection = self.connection();
        connection
            .query_row("SELECT version FROM jobs_version WHERE id = 1", [], |row| {
                row.get(0)
            })
            .at(self.path())
    }

    /// The session a `--session NAME` runs in, once created.
    pub fn named_session(&self, name: &str) -> Result<Option<String>, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT session_id FROM job_sessions WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .at(self.path())
    }

    /// Records (or replaces) the session `name` runs in.
    pub fn set_named_session(&self, name: &str, session_id: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                "INSERT INTO job_sessions (name, session_id) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET session_id = excluded.session_id",
                params![name, session_id],
            )
            .at(self.path())?;
        Ok(())
    }

    fn insert_run_advancing(
        &self,
        job_id: i64,
        due: &str,
        trigger: RunTrigger,
        outcome: RunOutcome,
        detail: &str,
    ) -> Result<Option<i64>, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let run = insert_run(&tx, job_id, due, trigger, outcome, detail).at(self.path())?;
        if run.is_some() {
            tx.execute(
                "UPDATE jobs SET cursor = ?2 WHERE id = ?1 AND (cursor IS NULL OR cursor < ?2)",
                params![job_id, due],
            )
            .at(self.path())?;
        }
        tx.commit().at(self.path())?;
        Ok(run)
    }

    /// Runs a one-statement change of job `name` and bumps the version.
    fn change_job(&self, name: &str, sql: &str) -> Result<(), StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let changed = tx.execute(sql, [name]).at(self.path())?;
        self.finish_change(tx, name, changed)
    }

    fn finish_change(
        &self,
        tx: Transaction<'_>,
        name: &str,
        changed: usize,
    ) -> Result<(), StoreError> {
        if changed == 0 {
            return Err(StoreError::JobNotFound {
                name: name.to_string(),
            });
        }
        bump_version(&tx).at(self.path())?;
        tx.commit().at(self.path())
    }
}

fn bump_version(tx: &Transaction<'_>) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE jobs_version SET version = version + 1 WHERE id = 1",
        [],
    )
}

/// Inserts a run row unless the due time is taken; its id, or `None`.
fn insert_run(
    tx: &Transaction<'_>,
    job_id: i64,
    due: &str,
    trigger: RunTrigger,
    outcome: RunOutcome,
    detail: &str,
) -> rusqlite::Result<Option<i64>> {
    let sql = format!(
        "INSERT INTO job_runs (job_id, due, trigger, outcome, detail, claimed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, {NOW}) ON CONFLICT (job_id, due) DO NOTHING"
    );
    let inserted = tx.execute(
        &sql,
        params![
            job_id,
            due,
            trigger_sql(trigger),
            outcome_sql(outcome),
            detail
        ],
    )?;
    Ok((inserted == 1).then(|| tx.last_insert_rowid()))
}

fn job_by_name(connection: &Connection, name: &str) -> rusqlite::Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE name = ?1");
    connection.query_row(&sql, [name], job_from_row).optional()
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let kind: String = row.get(2)?;
    let expr: String = row.get(3)?;
    let schedule = match kind.as_str() {
        "every" => ScheduleSpec::Every {
            duration: expr,
            anchor: row.get(5)?,
        },
        "cron" => ScheduleSpec::Cron {
            expr,
            zone: row.get(4)?,
        },
        _ => ScheduleSpec::At { time: expr },
    };
    Ok(Job {
        id: row.get(0)?,
        name: row.get(1)?,
        schedule,
        prompt: row.get(6)?,
        session_name: row.get(7)?,
        deliver: row.get(8)?,
        catch_up: match row.get::<_, String>(9)?.as_str() {
            "skip" => CatchUp::Skip,
            _ => CatchUp::Once,
        },
        origin: match row.get::<_, String>(10)?.as_str() {
            "model" => JobOrigin::Model,
            "api" => JobOrigin::Api,
            _ => JobOrigin::Cli,
        },
        enabled: row.get::<_, i64>(11)? != 0,
        cursor: row.get(12)?,
        run_requested: row.get(13)?,
        created_at: row.get(14)?,
    })
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<JobRun> {
    run_from_row_at(row, 0)
}

fn run_from_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<JobRun> {
    Ok(JobRun {
        id: row.get(at)?,
        job: row.get(at + 1)?,
        due: row.get(at + 2)?,
        trigger: match row.get::<_, String>(at + 3)?.as_str() {
            "catch_up" => RunTrigger::CatchUp,
            "manual" => RunTrigger::Manual,
            _ => RunTrigger::Schedule,
        },
        outcome: outcome_from_sql(&row.get::<_, String>(at + 4)?),
        claimed_at: row.get(at + 5)?,
        started_at: row.get(at + 6)?,
        ended_at: row.get(at + 7)?,
        session_id: row.get(at + 8)?,
        input_tokens: row.get(at + 9)?,
        output_tokens: row.get(at + 10)?,
        detail: row.get(at + 11)?,
        delivery: match row.get::<_, String>(at + 12)?.as_str() {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::None,
        },
        delivery_attempts: row.get(at + 13)?,
        delivery_error: row.get(at + 14)?,
    })
}

fn catch_up_sql(catch_up: CatchUp) -> &'static str {
    match catch_up {
        CatchUp::Once => "once",
        CatchUp::Skip => "skip",
    }
}

fn origin_sql(origin: JobOrigin) -> &'static str {
    match origin {
        JobOrigin::Cli => "cli",
        JobOrigin::Model => "model",
        JobOrigin::Api => "api",
    }
}

fn trigger_sql(trigger: RunTrigger) -> &'static str {
    match trigger {
        RunTrigger::Schedule => "schedule",
        RunTrigger::CatchUp => "catch_up",
        RunTrigger::Manual => "manual",
    }
}

fn outcome_sql(outcome: RunOutcome) -> &'static str {
    match outcome {
        RunOutcome::Claimed => "claimed",
        RunOutcome::Running => "running",
        RunOutcome::Ok => "ok",
        RunOutcome::Error => "error",
        RunOutcome::Interrupted => "interrupted",
        RunOutcome::Skipped => "skipped",
        RunOutcome::Budget => "budget",
    }
}

fn outcome_from_sql(text: &str) -> RunOutcome {
    match text {
        "claimed" => RunOutcome::Claimed,
        "running" => RunOutcome::Running,
        "ok" => RunOutcome::Ok,
        "interrupted" => RunOutcome::Interrupted,
        "skipped" => RunOutcome::Skipped,
        "budget" => RunOutcome::Budget,
        _ => RunOutcome::Error,
    }
}

fn delivery_sql(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::None => "none",
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}
