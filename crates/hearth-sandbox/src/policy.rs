//! The public vocabulary of the sandbox: modes, policies, command specs and outputs.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How much a command may touch. Network is a separate switch on [`SandboxPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// No writes anywhere except a private temp dir.
    ReadOnly,
    /// Writes only in the workspace (its `.git` stays read-only) and a private temp dir.
    WorkspaceWrite,
    /// No sandbox at all; chosen explicitly by the user.
    FullAccess,
}

impl SandboxMode {
    pub const ALL: [SandboxMode; 3] = [Self::ReadOnly, Self::WorkspaceWrite, Self::FullAccess];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::WorkspaceWrite => "workspace-write",
            Self::FullAccess => "full-access",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown sandbox mode '{s}'; known: read-only, workspace-write, full-access"
                )
            })
    }
}

/// Resource limits applied to the sandboxed process tree (setrlimit). `None` = unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    pub cpu_seconds: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub max_processes: Option<u64>,
    pub file_size_bytes: Option<u64>,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            cpu_seconds: Some(300),
            memory_bytes: Some(4 << 30),
            max_processes: Some(512),
            file_size_bytes: Some(1 << 30),
        }
    }
}

/// Where a command may read, write and connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPolicy {
    pub mode: SandboxMode,
    /// The agent's workspace: the only writable tree in `workspace-write`.
    pub workspace: PathBuf,
    /// Network access (off by default in the sandboxed modes).
    pub network: bool,
    /// Paths the command must neither read nor write (`$HEARTH_HOME`: config, secrets,
    /// the state databases). A hidden directory hides everything in it, also what is
    /// created there later; the workspace stays visible when it lies inside one.
    pub hidden_paths: Vec<PathBuf>,
    /// Paths inside hidden directories shown again, read-only (`$HEARTH_HOME/skills`,
    /// whose scripts commands may run).
    pub readable_paths: Vec<PathBuf>,
    /// Paths inside the workspace kept read-only in `workspace-write`, as every `.git`
    /// is: what steers the agent (`AGENTS.md`, `skills/`, `.hearth/`), once untrusted
    /// content is in the context. Missing ones are left out (nothing to bind); under
    /// Landlock they need a mount namespace, and the command is refused without one.
    pub read_only_paths: Vec<PathBuf>,
    pub limits: ResourceLimits,
}

/// What to run: a shell command line (`sh -c`) or an argv vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Shell(String),
    Argv(Vec<String>),
}

/// One command to run under a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub command: CommandLine,
    pub cwd: PathBuf,
    /// Extra environment variables (e.g. injected secrets) set for this command only.
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// At most this many bytes of each of stdout and stderr are kept; when more
    /// arrives, the head and the tail are kept and `truncated` is set.
    pub output_limit: usize,
}

/// How a command ended and what it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
    pub cancelled: bool,
    pub truncated: bool,
    /// The process tree grew past `limits.max_processes` and was killed.
    pub process_limit_exceeded: bool,
    /// Git repositories (their folders) the command created in the workspace. Their
    /// `.git` was writable to it, so its config may name programs that `git` would
    /// run; Hearth runs no git there, and the person should look before they do.
    pub new_git_repositories: Vec<PathBuf>,
}

/// Why a command could not be run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no sandbox mechanism works on this machine ({0}); install bubblewrap (apt-get install bubblewrap) or choose --sandbox full-access")]
    Unavailable(String),
    #[error("working directory {0} is outside the workspace; use a directory inside the workspace or choose --sandbox full-access")]
    CwdOutsideWorkspace(PathBuf),
    #[error("{what} {path} cannot be resolved ({source}); check that it exists and is readable")]
    PathUnresolvable {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the workspace {0} is one of the paths the sandbox hides (HEARTH_HOME itself); choose another folder with -C")]
    WorkspaceHidden(PathBuf),
    #[error("the command is empty; give a program to run")]
    EmptyCommand,
    #[error("could not start the command: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("lost track of the command's process ({0}); its output may be incomplete")]
    Wait(std::io::Error),
}
