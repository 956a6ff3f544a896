//! The `exec` tool: `sh -c` in the workspace, through the approval policy and the
//! sandbox. Output is capped and cut in the middle; a timeout kills the process group.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_protocol::ToolSpec;
use hearth_sandbox::{
    CommandLine, CommandOutput, CommandSpec, Mechanism, MechanismSettings, SandboxMode,
    SandboxPolicy,
};
use serde::Deserialize;

use crate::approval::{is_known_safe, ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver};
use crate::{parse_args, truncate_middle, Tool, ToolContext, ToolError, ToolOutput};

/// Default and largest timeouts a call may ask for.
const DEFAULT_TIMEOUT_MS: u64 = 120_000;
const MAX_TIMEOUT_MS: u64 = 600_000;
/// Characters of output the model sees (head and tail kept).
const OUTPUT_CHARS: usize = 16_000;
/// Bytes of each stream the sandbox keeps in memory.
const CAPTURE_BYTES: usize = 1 << 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecArgs {
    command: String,
    cwd: Option<String>,
    timeout_ms: Option<u64>,
    /// Ask the user to run this command outside the sandbox (approval `on-request`).
    #[serde(default)]
    escalate: bool,
}

/// Decides whether and where a command runs: approval policy first, then the sandbox.
pub struct ExecGate {
    policy: SandboxPolicy,
    approval: ApprovalPolicy,
    approver: Arc<dyn Approver>,
    approved_for_session: Mutex<HashSet<String>>,
    /// Set in each command's environment (secret values resolved at this boundary).
    env: Vec<(String, String)>,
    /// Which sandbox mechanism to use and how to start the Landlock helper.
    mechanism: MechanismSettings,
}

/// Where a command will run, or why it will not.
enum Verdict {
    Run {
        mode: SandboxMode,
        note: Option<String>,
    },
    Refuse(String),
}

impl ExecGate {
    pub fn new(
        policy: SandboxPolicy,
        approval: ApprovalPolicy,
        approver: Arc<dyn Approver>,
    ) -> Self {
        Self {
            policy,
            approval,
            approver,
            approved_for_session: Mutex::new(HashSet::new()),
            env: Vec::new(),
            mechanism: MechanismSettings::default(),
        }
    }

    /// The sandbox mechanism settings (choice, Landlock helper) commands run with;
    /// without this, bubblewrap only.
    pub fn with_mechanism(mut self, mechanism: MechanismSettings) -> Self {
        self.mechanism = mechanism;
        self
    }

    /// Variables set in every command's environment, e.g. injected secrets.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }

    fn already_approved(&self, command: &str) -> bool {
        self.approved_for_session
            .lock()
            .map(|set| set.contains(command))
            .unwrap_or(false)
    }

    async fn ask(
        &self,
        command: &str,
        cwd: &std::path::Path,
        reason: &str,
    ) -> Result<String, String> {
        if self.already_approved(command) {
            return Ok("approved earlier this session".into());
        }
        let request = ApprovalRequest {
            command: command.to_string(),
            cwd: cwd.to_path_buf(),
            reason: reason.to_string(),
        };
        match self.approver.decide(&request).await {
            ApprovalDecision::Approve => Ok("approved by the user".into()),
            ApprovalDecision::ApproveForSession => {
                if let Ok(mut set) = self.approved_for_session.lock() {
                    set.insert(command.to_string());
                }
                Ok("approved by the user for this session".into())
            }
            ApprovalDecision::Deny { reason } => Err(reason),
        }
    }

    async fn decide(&self, command: &str, cwd: &std::path::Path, escalate: bool) -> Verdict {
        let sandboxed = self.policy.mode != SandboxMode::FullAccess;
        if escalate && sandboxed {
            if self.approval == ApprovalPolicy::Never {
                return Verdict::Refuse("not allowed: running outside the sandbox needs the user's approval, and the approval policy is 'never'. Do the work inside the sandbox or tell the user what you need.".into());
            }
            return match self
                .ask(command, cwd, "a command OUTSIDE the sandbox (full access)")
                .await
            {
                Ok(note) => Verdict::Run {
                    mode: SandboxMode::FullAccess,
                    note: Some(note),
                },
                Err(why) => Verdict::Refuse(format!(
                    "not allowed to run outside the sandbox: {why}. Do not retry it unchanged."
                )),
            };
        }
        let mut note = None;
        if self.approval == ApprovalPolicy::Untrusted && !is_known_safe(command) {
            let what = if sandboxed {
                "a command (sandboxed)"
            } else {
                "a command WITHOUT a sandbox"
            };
            match self.ask(command, cwd, what).await {
                Ok(n) => note = Some(n),
                Err(why) => return Verdict::Refuse(format!("not allowed: approval policy 'untrusted' asks before commands not on the safe list, and {why}. Do not retry it unchanged.")),
            }
        }
        if sandboxed {
            if let Mechanism::Unavailable { reason } = hearth_sandbox::probe_with(&self.mechanism) {
                return Verdict::Refuse(format!("not allowed: the sandbox cannot run on this machine ({reason}); the user can install bubblewrap or choose --sandbox full-access"));
            }
        }
        Verdict::Run {
            mode: self.policy.mode,
            note,
        }
    }
}

/// `exec {command, cwd?, timeout_ms?, escalate?}`.
pub struct ExecTool {
    gate: ExecGate,
}

impl ExecTool {
    pub fn new(gate: ExecGate) -> Self {
        Self { gate }
    }
}

#[async_trait::async_trait]
impl Tool for ExecTool {
    fn name(&self) -> &str {
        "exec"
    }

    fn spec(&self) -> ToolSpec {
        let mut properties = serde_json::json!({
            "command": {"type": "string", "description": "Shell command (sh -c)"},
            "cwd": {"type": "string", "description": "Directory in the workspace"},
            "timeout_ms": {"type": "integer", "description": "Default 120000"}
        });
        if self.gate.approval == ApprovalPolicy::OnRequest
            && self.gate.policy.mode != SandboxMode::FullAccess
        {
            properties["escalate"] = serde_json::json!({"type": "boolean", "description": "Ask the user to run it outside the sandbox"});
        }
        ToolSpec {
            name: "exec".into(),
            description: format!(
                "Run a shell command in the workspace ({} sandbox{}).",
                self.gate.policy.mode,
                if self.gate.policy.network {
                    ""
                } else {
                    ", no network"
                }
            ),
            parameters: serde_json::json!({"type": "object", "properties": properties, "required": ["command"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: ExecArgs = parse_args("exec", args)?;
        let cwd = ctx.resolve_read(args.cwd.as_deref().unwrap_or("."))?;
        if !cwd.is_dir() {
            return Err(ToolError::WrongKind(format!(
                "cwd {} is not a directory in the workspace",
                cwd.display()
            )));
        }
        let (mode, note) = match self.gate.decide(&args.command, &cwd, args.escalate).await {
            Verdict::Run { mode, note } => (mode, note),
            Verdict::Refuse(why) => {
                tracing::info!(command = %args.command, "exec refused: {why}");
                return Err(ToolError::Refused(why));
            }
        };
        if let Some(note) = &note {
            tracing::info!(command = %args.command, "exec {note}");
        }
        let timeout_ms = args
            .timeout_ms
            .unwrap_or(DEFAULT_TIMEOUT_MS)
            .clamp(1, MAX_TIMEOUT_MS);
        let protected = protected_before(ctx).await;
        let policy = SandboxPolicy {
            mode,
            read_only_paths: protected.clone().unwrap_or_default(),
            ..self.gate.policy.clone()
        };
        let spec = CommandSpec {
            command: CommandLine::Shell(args.command.clone()),
            cwd,
            env: self.gate.env.clone(),
            timeout: Duration::from_millis(timeout_ms),
            output_limit: CAPTURE_BYTES,
        };
        let origin = untrusted_origin(ctx, &policy);
        let started = crate::untrusted_files::command_start();
        // A command that could not start changed nothing: no cleanup or marking to do.
        let ran = hearth_sandbox::run_using(&self.gate.mechanism, &policy, &spec, &ctx.cancel)
            .await
            .map_err(|err| ToolError::Failed(format!("could not run the command: {err}")))?;
        let mut output = format_output(&ran, timeout_ms, note.as_deref());
        if let Some(before) = protected {
            output
                .content
                .push_str(&remove_created_protected(ctx, before).await);
        }
        if let Some(origin) = origin {
            output
                .content
                .push_str(&mark_changed_files(ctx, started, origin).await);
        }
        Ok(output)
    }
}

/// In a step whose context holds untrusted content: the paths that steer the agent
/// which exist now, kept read-only for the command (`crate::protected_paths`).
async fn protected_before(ctx: &ToolContext) -> Option<Vec<PathBuf>> {
    let rule = ctx.tainted.as_ref()?.protected.clone()?;
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let skip = |path: &Path| ctx.is_private(path);
        crate::protected_paths::find(&ctx.workspace, &*rule, &skip)
    })
    .await
    .ok()
}

/// Removes the paths that steer the agent which the command created (it could not
/// change those in `before`); the note for the command's result, empty when none.
async fn remove_created_protected(ctx: &ToolContext, before: Vec<PathBuf>) -> String {
    let Some(rule) = ctx.tainted.as_ref().and_then(|step| step.protected.clone()) else {
        return String::new();
    };
    let ctx = ctx.clone();
    let removed = tokio::task::spawn_blocking(move || {
        let skip = |path: &Path| ctx.is_private(path);
        let after = crate::protected_paths::find(&ctx.workspace, &*rule, &skip);
        crate::protected_paths::remove_created(&before, after)
            .iter()
            .map(|path| crate::files::display_path(&ctx.workspace, path))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    if removed.is_empty() {
        return String::new();
    }
    format!(
        "\n[note: untrusted content is in this conversation, so commands cannot change what steers the agent (instruction files, skills, agent configuration); what this command created there was removed: {}. Use write_file or edit_file, which ask the person, if such a change is really wanted]",
        removed.join(", ")
    )
}

/// Why the files a command changes hold untrusted content, if they do: it ran while
/// the context held untrusted content, or it could reach the network.
fn untrusted_origin(ctx: &ToolContext, policy: &SandboxPolicy) -> Option<String> {
    if let Some(step) = &ctx.tainted {
        return Some(format!(
            "changed by an exec command run after untrusted content from {}",
            step.sources
        ));
    }
    (policy.network || policy.mode == SandboxMode::FullAccess)
        .then(|| "changed by an exec command that had network access".to_string())
}

/// Marks the workspace files changed since `started` as untrusted (on a blocking
/// thread); the note for the command's result, empty when none changed.
async fn mark_changed_files(
    ctx: &ToolContext,
    started: std::time::SystemTime,
    origin: String,
) -> String {
    let ctx = ctx.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let skip = |path: &std::path::Path| ctx.is_private(path);
        crate::untrusted_files::mark_changed_since(&ctx.workspace, started, &origin, &skip)
    })
    .await
    .unwrap_or_default();
    let mut note = String::new();
    if !walked.marked.is_empty() {
        note.push_str(&format!(
            "\n[note: {} file(s) this command changed are marked untrusted; reading them back marks their text as untrusted data]",
            walked.marked.len()
        ));
    }
    if walked.cut_short {
        note.push_str(&format!(
            "\n[note: the workspace has more than {} entries; files past them that this command changed are not marked untrusted]",
            crate::untrusted_files::MAX_WALK_ENTRIES
        ));
    }
    note
}

/// What the model sees: status line, then stdout and stderr, cut in the middle if long.
fn format_output(output: &CommandOutput, timeout_ms: u64, note: Option<&str>) -> ToolOutput {
    let status = if output.timed_out {
        format!("timed out after {timeout_ms} ms; the process group was killed")
    } else if output.cancelled {
        "cancelled by the user; the process group was killed".to_string()
    } else if let Some(code) = output.exit_code {
        format!("exit code {code}")
    } else if let Some(signal) = output.signal {
        format!("killed by signal {signal}")
    } else {
        "ended with no status".to_string()
    };
    let mut text = status.clone();
    if let Some(note) = note {
        text.push_str(&format!(" ({note})"));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let half = OUTPUT_CHARS / 2;
    let (out_budget, err_budget) = match (stdout.chars().count(), stderr.chars().count()) {
        (o, e) if o + e <= OUTPUT_CHARS => (o, e),
        (o, _) if o < half => (o, OUTPUT_CHARS - o),
        (_, e) if e < half => (OUTPUT_CHARS - e, e),
        _ => (half, half),
    };
    if !stdout.is_empty() {
        text.push_str("\nstdout:\n");
        text.push_str(&truncate_middle(&stdout, out_budget));
    }
    if !stderr.is_empty() {
        text.push_str("\nstderr:\n");
        text.push_str(&truncate_middle(&stderr, err_budget));
    }
    if output.truncated {
        text.push_str("\n[output was longer than the capture limit; the middle is missing]");
    }
    for repository in &output.new_git_repositories {
        // Its .git was writable to the command, so its config may name programs that
        // git would run; the person is told too (the log), and Hearth runs no git there.
        tracing::warn!(repository = %repository.display(), "a sandboxed command created a git repository");
        text.push_str(&format!(
            "\n[note: this command created the git repository {}; its .git is read-only from the next command on. Hearth never runs git in it; tell the user to check its .git/config before using git there]",
            repository.display()
        ));
    }
    let failed = output.timed_out || output.cancelled || output.exit_code != Some(0);
    ToolOutput {
        content: text,
        is_error: failed,
    }
}
