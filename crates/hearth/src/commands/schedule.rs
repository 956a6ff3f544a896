//! `hearth schedule`: add, list, remove, pause, resume and run scheduled jobs, and show
//! their runs. Jobs live in the state database; a running `hearth serve` picks a change
//! up within a second (see hearth-gateway's `scheduler`). `run` asks a running gateway
//! to run the job (it takes the request within a second); when none takes it within
//! [`GATEWAY_PICKUP`], the job runs here, in this process, claimed the same way.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use hearth_gateway::scheduler::{
    self, next_due, schedule_of, store_time, DeliveryTarget, SchedulerSettings,
};
use hearth_gateway::{ApprovalHub, SessionHub};
use hearth_schedule::{parse_duration, Schedule};
use hearth_store::{CatchUp, Job, JobOrigin, JobRun, NewJob, RunOutcome, ScheduleSpec, Store};
use jiff::Timestamp;
use serde::Serialize;

use crate::home::Home;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};
use crate::wiring::{environment, print_warning};

/// How long `hearth schedule run` waits for a running gateway to take the request.
const GATEWAY_PICKUP: Duration = Duration::from_millis(2500);
/// Longest job name.
const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Args)]
#[command(
    long_about = "Scheduled jobs: a prompt the agent runs on a schedule, in a new session each \
time or a named one, its answer optionally POSTed to a webhook or sent to a chat.\n\n\
Jobs are stored in $HEARTH_HOME/state.db and run by `hearth serve` (a running gateway picks \
up changes within a second). Each due time runs at most once, across restarts and crashes; \
due times missed while no gateway ran are caught up once (or skipped: --catch-up skip).\n\n\
Examples:\n  hearth schedule add briefing --cron '0 8 * * 1-5' --tz Europe/Berlin \\\n      \
--prompt 'Summarise my day' --session mornings\n  hearth schedule add plumber --at +2h \
--prompt 'Remind me to call the plumber' \\\n      --deliver telegram:123456789\n  \
hearth schedule add ping --every 30m --prompt 'Check the build' \\\n      \
--deliver https://example.com/hook"
)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a job: one of --every, --cron or --at, and a --prompt.
    Add(AddArgs),
    /// List the jobs: schedule, next and last run, enabled, origin.
    List {
        /// Print JSON: one object per job.
        #[arg(long)]
        json: bool,
    },
    /// Remove a job and its run history.
    Rm { name: String },
    /// Run a job now (through a running gateway if there is one, else in this process).
    Run { name: String },
    /// Stop a job from running until `resume`.
    Pause { name: String },
    /// Let a paused job run again (due times passed while paused are not caught up).
    Resume { name: String },
    /// A job's runs, the latest first: due time, start, end, outcome, session, tokens.
    History {
        name: String,
        /// Print JSON: one object per run.
        #[arg(long)]
        json: bool,
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("when").required(true).args(["every", "cron", "at"])))]
pub struct AddArgs {
    /// The job's name (letters, digits, '.', '_' and '-').
    pub name: String,
    /// Run every DURATION from now: 30s, 5m, 2h, 1d, 1h30m.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Run on a five-field cron expression (minute hour day-of-month month day-of-week),
    /// in --tz; e.g. '0 8 * * 1-5' (08:00 on weekdays), '@daily'.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Run once at TIME: RFC 3339 (2026-12-24T09:00:00+01:00) or +DURATION (+10m).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// What to ask the agent.
    #[arg(long, value_name = "TEXT")]
    pub prompt: String,
    /// Run in this named session every time (created on the first run); default: a new
    /// session each run.
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// Also send the answer here: an http(s) webhook URL, which gets a JSON POST
    /// {job, due, session_id, outcome, text}; or a chat as NAME:CHAT through a channel
    /// `hearth serve` runs (telegram:CHAT_ID, matrix:!room:server, email:ADDRESS; only
    /// chats of allowed or admitted senders). Retried with backoff on failure.
    #[arg(long, value_name = "TARGET")]
    pub deliver: Option<String>,
    /// The IANA time zone --cron is read in (default: the system's), e.g. Europe/Berlin.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Due times missed while no gateway ran: run the latest once, or skip them.
    #[arg(long, value_enum, default_value = "once")]
    pub catch_up: CatchUpArg,
}

/// `--catch-up`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CatchUpArg {
    Once,
    Skip,
}

impl From<CatchUpArg> for CatchUp {
    fn from(arg: CatchUpArg) -> Self {
        match arg {
            CatchUpArg::Once => CatchUp::Once,
            CatchUpArg::Skip => CatchUp::Skip,
        }
    }
}

/// One job as `list` shows it.
#[derive(Debug, Serialize)]
struct JobListing {
    name: String,
    schedule: String,
    next_run: Option<String>,
    last_run: Option<String>,
    last_outcome: Option<RunOutcome>,
    enabled: bool,
    origin: JobOrigin,
    catch_up: CatchUp,
    session: Option<String>,
    deliver: Option<String>,
    prompt: String,
}

pub async fn schedule(args: ScheduleArgs) -> Result<ExitCode> {
    let home = Home::locate()?;
    let store = Arc::new(Store::open(&home.state_db())?);
    match args.command {
        ScheduleCommand::Add(add) => add_job(&store, add),
        ScheduleCommand::List { json } => list(&store, json),
        ScheduleCommand::Rm { name } => {
            store.remove_job(&name)?;
            eprintln!("removed {}", shown(&name));
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Pause { name } => {
            store.pause_job(&name)?;
            eprintln!("paused {}", shown(&name));
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Resume { name } => {
            store.resume_job(&name, &store_time(Timestamp::now()))?;
            eprintln!("resumed {}", shown(&name));
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Run { name } => run(store, &name).await,
        ScheduleCommand::History { name, json, limit } => history(&store, &name, json, limit),
    }
}

fn add_job(store: &Store, args: AddArgs) -> Result<ExitCode> {
    check_name(&args.name)?;
    if args.prompt.trim().is_empty() {
        bail!("--prompt is empty; say what the agent should do");
    }
    if args.tz.is_some() && args.cron.is_none() {
        bail!("--tz applies to --cron only (--at takes an offset: 2026-12-24T09:00:00+01:00)");
    }
    let now = Timestamp::now();
    let spec = if let Some(every) = &args.every {
        parse_duration(every)?;
        let anchor = Timestamp::from_second(now.as_second()).unwrap_or(now);
        ScheduleSpec::Every {
            duration: every.trim().to_string(),
            anchor: store_time(anchor),
        }
    } else if let Some(expr) = &args.cron {
        Schedule::cron(expr, args.tz.as_deref())?;
        let zone = args
            .tz
            .clone()
            .or_else(|| jiff::tz::TimeZone::system().iana_name().map(str::to_string));
        ScheduleSpec::Cron {
            expr: expr.trim().to_string(),
            zone,
        }
    } else if let Some(at) = &args.at {
        let Schedule::At(time) = Schedule::at(at, now)? else {
            bail!("--at {at}: not a time");
        };
        if time <= now {
            bail!("--at {at} is in the past ({time}); give a later time, or +DURATION (+10m)");
        }
        ScheduleSpec::At {
            time: store_time(time),
        }
    } else {
        bail!("give one of --every, --cron or --at");
    };
    if let Some(deliver) = &args.deliver {
        DeliveryTarget::parse(deliver).map_err(anyhow::Error::msg)?;
    }
    let job = store.add_job(&NewJob {
        name: args.name,
        schedule: spec,
        prompt: args.prompt,
        session_name: args.session,
        deliver: args.deliver,
        catch_up: args.catch_up.into(),
        origin: JobOrigin::Cli,
    })?;
    let listing = listing(&job, None);
    eprintln!(
        "added {}: {}; next run {}",
        shown(&job.name),
        listing.schedule,
        listing.next_run.as_deref().unwrap_or("never")
    );
    Ok(ExitCode::SUCCESS)
}

fn check_name(name: &str) -> Result<()> {
    let fine = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !fine {
        bail!(
            "'{}' is not a job name; use up to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-'",
            shown(name)
        );
    }
    Ok(())
}

fn listing(job: &Job, last: Option<&JobRun>) -> JobListing {
    let schedule = schedule_of(&job.schedule)
        .map(|schedule| schedule.describe())
        .unwrap_or_else(|err| format!("(unreadable: {err})"));
    JobListing {
        name: job.name.clone(),
        schedule,
        next_run: job.enabled.then(|| next_due(job)).flatten().map(store_time),
        last_run: last.map(|run| run.due.clone()),
        last_outcome: last.map(|run| run.outcome),
        enabled: job.enabled,
        origin: job.origin,
        catch_up: job.catch_up,
        session: job.session_name.clone(),
        deliver: job.deliver.clone(),
        prompt: job.prompt.clone(),
    }
}

fn list(store: &Store, json: bool) -> Result<ExitCode> {
    let jobs = store.list_jobs()?;
    let last_runs = store.last_runs()?;
    let listings: Vec<JobListing> = jobs
        .iter()
        .map(|job| {
            let last = last_runs
                .iter()
                .find(|(id, _)| *id == job.id)
                .map(|(_, run)| run);
            listing(job, last)
        })
        .collect();
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&listings)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if listings.is_empty() {
        eprintln!("no scheduled jobs; add one with `hearth schedule add`");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<20} {:<36} {:<25} {:<25} {:<8} ORIGIN",
        "NAME", "SCHEDULE", "NEXT RUN", "LAST RUN", "ENABLED"
    );
    for job in &listings {
        let last = match (&job.last_run, job.last_outcome) {
            (Some(due), Some(outcome)) => format!("{due} {}", outcome_word(outcome)),
            _ => "-".into(),
        };
        println!(
            "{:<20} {:<36} {:<25} {:<25} {:<8} {}",
            shown(&job.name),
            shown(&job.schedule),
            job.next_run.as_deref().unwrap_or("-"),
            last,
            if job.enabled { "yes" } else { "paused" },
            origin_word(job.origin)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn history(store: &Store, name: &str, json: bool, limit: usize) -> Result<ExitCode> {
    let runs = store.job_history(name, limit)?;
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&runs)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        eprintln!("{} has not run yet", shown(name));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<25} {:<9} {:<12} {:<25} {:<25} {:<37} {:>8} {:>8}  DELIVERY",
        "DUE", "TRIGGER", "OUTCOME", "STARTED", "ENDED", "SESSION", "IN", "OUT"
    );
    for run in &runs {
        let delivery = match run.delivery {
            hearth_store::DeliveryStatus::None => "-".to_string(),
            status => format!(
                "{} after {} attempt(s){}",
                serde_json::to_value(status)?.as_str().unwrap_or_default(),
                run.delivery_attempts,
                if run.delivery_error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", shown(&run.delivery_error))
                }
            ),
        };
        println!(
            "{:<25} {:<9} {:<12} {:<25} {:<25} {:<37} {:>8} {:>8}  {delivery}",
            run.due,
            serde_json::to_value(run.trigger)?
                .as_str()
                .unwrap_or_default(),
            outcome_word(run.outcome),
            run.started_at.as_deref().unwrap_or("-"),
            run.ended_at.as_deref().unwrap_or("-"),
            run.session_id.as_deref().unwrap_or("-"),
            run.input_tokens,
            run.output_tokens,
        );
        if !run.detail.is_empty() {
            println!("    {}", shown(&run.detail));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `run`: hand the request to a running gateway, or run here if none takes it.
async fn run(store: Arc<Store>, name: &str) -> Result<ExitCode> {
    let job = store.job(name)?;
    let now = Timestamp::now();
    let at = store_time(now);
    store.request_run(name, &at)?;
    let started = std::time::Instant::now();
    while started.elapsed() < GATEWAY_PICKUP {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if store.job(name)?.run_requested.as_deref() != Some(at.as_str()) {
            eprintln!("a running gateway took the run of {}", shown(name));
            return wait_for_gateway_run(&store, name, &at).await;
        }
    }
    if !store.withdraw_run_request(name, &at)? {
        eprintln!("a running gateway took the run of {}", shown(name));
        return wait_for_gateway_run(&store, name, &at).await;
    }
    eprintln!(
        "no gateway took the run of {}; running it here",
        shown(name)
    );
    let mut resolved = hearth_runtime::resolve(&Default::default(), environment())?;
    for warning in &resolved.warnings {
        print_warning(warning);
    }
    let model = resolved.model(None)?;
    for warning in resolved.start_mcp_servers().await {
        print_warning(&warning);
    }
    let state = resolved.open_store()?;
    // No one can answer an approval question here: a question is a deny at once.
    let approvals = Arc::new(ApprovalHub::new(Duration::ZERO));
    let hub = Arc::new(SessionHub::new(
        Arc::new(resolved),
        state,
        approvals,
        Some(model.to_string()),
    ));
    let run = scheduler::run_now(&hub, &store, &job, now, &SchedulerSettings::default())
        .await
        .context("the run failed")?;
    hub.shut_down(Duration::from_secs(5)).await;
    match run {
        Some(run) => Ok(report_run(&run)),
        None => bail!("that due time of {} was claimed already", shown(name)),
    }
}

/// Waits for the gateway's run of the request made at `at` to finish, and reports it.
async fn wait_for_gateway_run(store: &Store, name: &str, at: &str) -> Result<ExitCode> {
    loop {
        let run = store
            .job_history(name, 50)?
            .into_iter()
            .find(|run| run.due == at);
        if let Some(run) =
            run.filter(|run| !matches!(run.outcome, RunOutcome::Claimed | RunOutcome::Running))
        {
            return Ok(report_run(&run));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn report_run(run: &JobRun) -> ExitCode {
    eprintln!(
        "{}: {} in session {} ({} input, {} output tokens){}",
        shown(&run.job),
        outcome_word(run.outcome),
        run.session_id.as_deref().unwrap_or("-"),
        run.input_tokens,
        run.output_tokens,
        if run.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", shown(&run.detail))
        }
    );
    if run.outcome == RunOutcome::Ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn outcome_word(outcome: RunOutcome) -> &'static str {
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

fn origin_word(origin: JobOrigin) -> &'static str {
    match origin {
        JobOrigin::Cli => "cli",
        JobOrigin::Model => "model",
        JobOrigin::Api => "api",
    }
}

/// Text from the store (a model may have written it) made safe for the terminal.
fn shown(text: &str) -> String {
    escape_for_terminal(text, Layout::OneLine)
}
