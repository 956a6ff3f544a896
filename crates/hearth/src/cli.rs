//! The command line: every command, flag and its `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hearth_sandbox::SandboxMode;
use hearth_tools::ApprovalPolicy;

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "A personal AI agent that runs on your machine: a model with tools in a loop over a sandboxed workspace.",
    long_about = "A personal AI agent that runs on your machine: a model with tools in a loop over a \
sandboxed workspace.\n\nState lives in $HEARTH_HOME (default ~/.hearth): config.toml, state.db, workspace/.\n\
Models are addressed as provider:model, e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5."
)]
pub struct Cli {
    /// Log debug details to stderr (or set HEARTH_LOG=debug).
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one task and exit: the answer streams to stdout, progress to stderr.
    Run(RunArgs),
    /// Talk with the agent interactively (/help, /new, /exit).
    Chat(AgentArgs),
    /// Show what the next model request would contain, and the size of each part.
    Context(ContextArgs),
    /// List and show stored sessions.
    Sessions(SessionsArgs),
    /// Tokens and cost of the model calls made: by day, model or session.
    Usage(crate::commands::usage::UsageArgs),
    /// Check the home directory, the config, the sandbox and whether each model answers.
    Doctor(DoctorArgs),
    /// Run a command exactly as the exec tool would, in the sandbox.
    Sandbox(SandboxArgs),
    /// List, check and create Agent Skills (SKILL.md folders).
    Skills(crate::commands::skills::SkillsArgs),
    /// MCP: list the configured servers and their tools, or serve Hearth over MCP.
    Mcp(crate::commands::mcp::McpArgs),
    /// Store, list and remove secrets (referenced in config.toml as "secret:NAME").
    Secrets(crate::commands::secrets::SecretsArgs),
    /// Long-term memory: add, search, list, forget, reindex, and the recall benchmark.
    Memory(crate::commands::memory::MemoryArgs),
    /// Local GGUF models: list the model cache, add a file to it, measure one.
    Models(crate::commands::models::ModelsArgs),
    /// Run `hearth serve` as a systemd user service: install, uninstall, status.
    Service(crate::commands::service::ServiceArgs),
    /// Chat channels (Telegram): pair a sender, list channels and admitted senders.
    Channels(crate::commands::channels::ChannelsArgs),
    /// Run the gateway: the agent's HTTP/WebSocket API, until SIGINT or SIGTERM.
    Serve(crate::commands::serve::ServeArgs),
    /// Scheduled jobs: add, list, run, pause, resume, remove; their run history.
    Schedule(crate::commands::schedule::ScheduleArgs),
    /// The heartbeat (`[heartbeat]` in config.toml): run one tick, list past ticks.
    Heartbeat(crate::commands::heartbeat::HeartbeatArgs),
}

/// Options shared by the commands that run the agent.
#[derive(Debug, Args, Clone)]
pub struct AgentArgs {
    /// Model as provider:model (default: `model` in config.toml, or HEARTH_MODEL).
    #[arg(long, short)]
    pub model: Option<String>,
    /// The agent's workspace (default: $HEARTH_HOME/workspace).
    #[arg(short = 'C', long = "workspace", value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Continue a stored session (an id or a unique prefix of one).
    #[arg(long, value_name = "ID")]
    pub resume: Option<String>,
    /// Where commands run: read-only, workspace-write (default) or full-access (no sandbox).
    #[arg(long, value_name = "MODE", value_enum)]
    pub sandbox: Option<SandboxArg>,
    /// When to ask before running a command: untrusted, on-request (default) or never.
    #[arg(long, value_name = "POLICY", value_enum)]
    pub approval: Option<ApprovalArg>,
    /// Model calls per turn before the turn is stopped.
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u32>,
    /// Ask for whole responses instead of streaming them.
    #[arg(long)]
    pub no_stream: bool,
}

/// `--sandbox`: parsed here, at the edge, into the library's [`SandboxMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxArg {
    ReadOnly,
    WorkspaceWrite,
    FullAccess,
}

impl From<SandboxArg> for SandboxMode {
    fn from(arg: SandboxArg) -> Self {
        match arg {
            SandboxArg::ReadOnly => SandboxMode::ReadOnly,
            SandboxArg::WorkspaceWrite => SandboxMode::WorkspaceWrite,
            SandboxArg::FullAccess => SandboxMode::FullAccess,
        }
    }
}

/// `--approval`: parsed here, at the edge, into the library's [`ApprovalPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApprovalArg {
    Untrusted,
    OnRequest,
    Never,
}

impl From<ApprovalArg> for ApprovalPolicy {
    fn from(arg: ApprovalArg) -> Self {
        match arg {
            ApprovalArg::Untrusted => ApprovalPolicy::Untrusted,
            ApprovalArg::OnRequest => ApprovalPolicy::OnRequest,
            ApprovalArg::Never => ApprovalPolicy::Never,
        }
    }
}

impl AgentArgs {
    /// The runtime's plain overrides for these flags.
    pub fn overrides(&self) -> hearth_runtime::Overrides {
        hearth_runtime::Overrides {
            model: self.model.clone(),
            workspace: self.workspace.clone(),
            resume: self.resume.clone(),
            sandbox: self.sandbox.map(SandboxMode::from),
            approval: self.approval.map(ApprovalPolicy::from),
            max_steps: self.max_steps,
            stream: !self.no_stream,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Print one JSON event per line on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// The task. Use - to read it from stdin.
    #[arg(value_name = "PROMPT", required = true)]
    pub prompt: String,
}

#[derive(Debug, Args)]
pub struct ContextArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the full text of the system prompt and the tool schemas.
    #[arg(long)]
    pub full: bool,
    /// The message the next request would carry.
    #[arg(value_name = "PROMPT", default_value = "say hello")]
    pub prompt: String,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    pub command: SessionsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List sessions, most recently updated first.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Show one session's transcript.
    Show {
        /// A session id or a unique prefix of one.
        id: String,
        /// Print the session and its messages as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Skip sending a test request to the configured model.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run a command under the sandbox policy; its exit status and output are its own.
    Run {
        /// read-only, workspace-write (default) or full-access.
        #[arg(long, value_name = "MODE", value_enum)]
        mode: Option<SandboxArg>,
        /// Allow network access.
        #[arg(long)]
        network: bool,
        /// The workspace (default: $HEARTH_HOME/workspace).
        #[arg(short = 'C', long = "workspace", value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// Seconds before the command's whole process group is killed.
        #[arg(long, default_value_t = 600)]
        timeout_secs: u64,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every library value has a flag value, spelled as the library spells it (so
    /// config.toml and the flags accept the same words).
    #[test]
    fn flag_values_match_the_library_names() {
        for arg in SandboxArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(SandboxMode::from(*arg).as_str()));
        }
        assert_eq!(SandboxArg::value_variants().len(), SandboxMode::ALL.len());
        for arg in ApprovalArg::value_variants() {
            let name = arg.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(ApprovalPolicy::from(*arg).as_str()));
        }
    }
}
