//! The model's scheduling tools: `schedule_create {name?, when, prompt}`,
//! `schedule_list {}` and `schedule_cancel {name}`, over the jobs in the state database
//! (`hearth-store`'s `jobs`), which a running gateway picks up within a second. They
//! work wherever an agent runs (`hearth run`, `chat`, the gateway). Jobs made here have
//! origin `model`. Creating and cancelling a job are side effects: the user is asked
//! (under approval `never` they are refused); listing only reads. `when` is parsed by
//! [`when`] (the CLI's forms in one string).

mod when;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use hearth_protocol::ToolSpec;
use hearth_store::{CatchUp, Job, JobOrigin, NewJob, Store, StoreError};
use hearth_tools::{
    parse_args, ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver, Tool, ToolContext,
    ToolError, ToolOutput, ToolRegistry,
};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;

pub use when::{local_time, parse_when, schedule_of, store_time, When};

const CREATE_DESCRIPTION: &str = include_str!("../../prompts/schedule_create.md");
const LIST_DESCRIPTION: &str = include_str!("../../prompts/schedule_list.md");
const CANCEL_DESCRIPTION: &str = include_str!("../../prompts/schedule_cancel.md");

/// Longest job name (as `hearth schedule add`).
const MAX_NAME_CHARS: usize = 64;
/// Longest prompt the model may schedule.
const MAX_PROMPT_CHARS: usize = 4000;

/// What the three tools share: the state database (opened on first use), who approves
/// and the user's time zone.
pub struct ScheduleAccess {
    state_db: PathBuf,
    store: OnceLock<Arc<Store>>,
    approver: Arc<dyn Approver>,
    policy: ApprovalPolicy,
    zone: TimeZone,
}

impl ScheduleAccess {
    /// Jobs in `state_db`, created or cancelled when `approver` says yes, in the
    /// system's time zone.
    pub fn new(state_db: PathBuf, approver: Arc<dyn Approver>, policy: ApprovalPolicy) -> Self {
        Self {
            state_db,
            store: OnceLock::new(),
            approver,
            policy,
            zone: TimeZone::system(),
        }
    }

    /// Reads local times (`cron`, `2026-12-06T09:00`) in `zone` instead.
    pub fn with_zone(mut self, zone: TimeZone) -> Self {
        self.zone = zone;
        self
    }

    /// Registers `schedule_create`, `schedule_list` and `schedule_cancel`.
    pub fn register(self, tools: &mut ToolRegistry) {
        let access = Arc::new(self);
        tools.register(Arc::new(ScheduleCreate(access.clone())));
        tools.register(Arc::new(ScheduleList(access.clone())));
        tools.register(Arc::new(ScheduleCancel(access)));
    }

    /// Runs `work` on the store on a blocking thread (SQLite writes fsync).
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ToolError> {
        let access = self.clone();
        let failed = |err: StoreError| ToolError::Failed(err.to_string());
        tokio::task::spawn_blocking(move || {
            let store = match access.store.get() {
                Some(store) => store.clone(),
                None => {
                    let opened = Store::open(&access.state_db).map_err(failed)?;
                    access.store.get_or_init(|| Arc::new(opened)).clone()
                }
            };
            work(&store).map_err(failed)
        })
        .await
        .map_err(|err| ToolError::Failed(format!("the job store failed: {err}")))?
    }

    /// Asks the user about `what`; `Err` is the refusal.
    async fn approve(&self, what: String, ctx: &ToolContext) -> Result<(), ToolError> {
        if self.policy == ApprovalPolicy::Never {
            return Err(ToolError::Refused(
                "this needs the user's approval, and approval is set to never; \
                 nothing was changed"
                    .into(),
            ));
        }
        let request = ApprovalRequest {
            command: what,
            cwd: ctx.workspace.clone(),
            reason: "a scheduled job: a prompt the agent runs later, unattended".into(),
        };
        match self.approver.decide(&request).await {
            ApprovalDecision::Approve | ApprovalDecision::ApproveForSession => Ok(()),
            ApprovalDecision::Deny { reason } => Err(ToolError::Refused(format!(
                "the user did not approve: {reason}"
            ))),
        }
    }

    fn describe(&self, spec: &hearth_store::ScheduleSpec) -> String {
        schedule_of(spec)
            .map(|schedule| schedule.describe())
            .unwrap_or_else(|err| format!("(unreadable: {err})"))
    }
}

fn spec(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.trim().into(),
        parameters,
    }
}

/// `schedule_create`.
struct ScheduleCreate(Arc<ScheduleAccess>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateArgs {
    #[serde(default)]
    name: Option<String>,
    when: String,
    prompt: String,
}

#[async_trait]
impl Tool for ScheduleCreate {
    fn name(&self) -> &str {
        "schedule_create"
    }

    fn spec(&self) -> ToolSpec {
        spec(
            "schedule_create",
            CREATE_DESCRIPTION,
            serde_json::json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "when": {"type": "string"},
                    "prompt": {"type": "string", "description": "Self-contained"}
                },
                "required": ["when", "prompt"],
                "additionalProperties": false
            }),
        )
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let access = &self.0;
        let args: CreateArgs = parse_args("schedule_create", args)?;
        let prompt = args.prompt.trim().to_string();
        if prompt.is_empty() || prompt.chars().count() > MAX_PROMPT_CHARS {
            return Err(ToolError::InvalidField {
                field: "prompt",
                message: format!("prompt must be 1 to {MAX_PROMPT_CHARS} characters"),
            });
        }
        let now = Timestamp::now();
        let when =
            parse_when(&args.when, now, &access.zone).map_err(|err| ToolError::InvalidField {
                field: "when",
                message: err.to_string(),
            })?;
        let taken: Vec<String> = access
            .with_store(|store| store.list_jobs())
            .await?
            .into_iter()
            .map(|job| job.name)
            .collect();
        let name = match args.name {
            Some(name) => check_name(name.trim())?,
            None => free_name(&prompt, &taken),
        };
        if taken.contains(&name) {
            return Err(ToolError::InvalidField {
                field: "name",
                message: format!("a job named '{name}' exists; pick another name"),
            });
        }
        let schedule = access.describe(&when.spec);
        let next = when
            .next
            .map(|at| local_time(at, &access.zone))
            .unwrap_or_else(|| "never".into());
        access
            .approve(
                format!("schedule_create {name} ({schedule}; next {next}): {prompt}"),
                ctx,
            )
            .await?;
        let job = NewJob {
            name: name.clone(),
            schedule: when.spec,
            prompt,
            session_name: None,
            deliver: None,
            catch_up: CatchUp::Once,
            origin: JobOrigin::Model,
        };
        access.with_store(move |store| store.add_job(&job)).await?;
        Ok(ToolOutput::ok(format!(
            "created job '{name}': {schedule}; next run {next}; it runs in a new session"
        )))
    }
}

/// `name` when it is a valid job name.
fn check_name(name: &str) -> Result<String, ToolError> {
    let fine = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if fine {
        Ok(name.to_string())
    } else {
        Err(ToolError::InvalidField {
            field: "name",
            message: format!(
                "'{name}' is not a job name; use up to {MAX_NAME_CHARS} letters, \
                 digits, '.', '_' or '-'"
            ),
        })
    }
}

/// A name from the prompt's first words (`call-the-plumber`), made unique.
fn free_name(prompt: &str, taken: &[String]) -> String {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(4)
        .map(str::to_ascii_lowercase)
        .collect();
    let mut base = words.join("-");
    base.truncate(32);
    let base = if base.is_empty() { "job".into() } else { base };
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|name| !taken.contains(name))
        .unwrap_or(base)
}

/// `schedule_list`.
struct ScheduleList(Arc<ScheduleAccess>);

#[async_trait]
impl Tool for ScheduleList {
    fn name(&self) -> &str {
        "schedule_list"
    }

    fn spec(&self) -> ToolSpec {
        spec(
            "schedule_list",
            LIST_DESCRIPTION,
            serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
        )
    }

    fn is_read_only(&self) -> bool {
        true
    }

    async fn call(
        &self,
        _args: serde_json::Value,
        _ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let jobs = self.0.with_store(|store| store.list_jobs()).await?;
        if jobs.is_empty() {
            return Ok(ToolOutput::ok("no scheduled jobs"));
        }
        let now = Timestamp::now();
        let lines: Vec<String> = jobs.iter().map(|job| self.line(job, now)).collect();
        Ok(ToolOutput::ok(lines.join("\n")))
    }
}

impl ScheduleList {
    /// One job: `name: schedule; next …; by …[; paused]: prompt`.
    fn line(&self, job: &Job, now: Timestamp) -> String {
        let access = &self.0;
        let next = schedule_of(&job.schedule)
            .ok()
            .and_then(|schedule| schedule.next_after(now))
            .filter(|_| job.enabled)
            .map(|at| local_time(at, &access.zone))
            .unwrap_or_else(|| "none".into());
        let origin = match job.origin {
            JobOrigin::Cli => "the user (CLI)",
            JobOrigin::Model => "you",
            JobOrigin::Api => "the user (API)",
        };
        let paused = if job.enabled { "" } else { "; paused" };
        let mut prompt: String = job.prompt.chars().take(120).collect();
        if job.prompt.chars().count() > 120 {
            prompt.push('…');
        }
        format!(
            "{}: {}; next {next}; made by {origin}{paused}: {prompt}",
            job.name,
            access.describe(&job.schedule)
        )
    }
}

/// `schedule_cancel`.
struct ScheduleCancel(Arc<ScheduleAccess>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelArgs {
    name: String,
}

#[async_trait]
impl Tool for ScheduleCancel {
    fn name(&self) -> &str {
        "schedule_cancel"
    }

    fn spec(&self) -> ToolSpec {
        spec(
            "schedule_cancel",
            CANCEL_DESCRIPTION,
            serde_json::json!({
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
                "additionalProperties": false
            }),
        )
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let access = &self.0;
        let args: CancelArgs = parse_args("schedule_cancel", args)?;
        let jobs = access.with_store(|store| store.list_jobs()).await?;
        let Some(job) = jobs.iter().find(|job| job.name == args.name) else {
            let names: Vec<&str> = jobs.iter().map(|job| job.name.as_str()).collect();
            return Err(ToolError::NotFound(format!(
                "no job named '{}'; jobs: {}",
                args.name,
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            )));
        };
        let what = format!(
            "schedule_cancel {} ({}): {}",
            job.name,
            access.describe(&job.schedule),
            job.prompt
        );
        access.approve(what, ctx).await?;
        let name = job.name.clone();
        access
            .with_store(move |store| store.remove_job(&name))
            .await?;
        Ok(ToolOutput::ok(format!("cancelled job '{}'", job.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_prompt_and_are_unique() {
        assert_eq!(
            free_name("Call the plumber now please", &[]),
            "call-the-plumber-now"
        );
        assert_eq!(
            free_name("Call the plumber", &["call-the-plumber".into()]),
            "call-the-plumber-2"
        );
        assert_eq!(free_name("!!!", &[]), "job");
        assert!(check_name("a b").is_err());
        assert_eq!(check_name("ok.name_1-x").unwrap(), "ok.name_1-x");
    }
}
