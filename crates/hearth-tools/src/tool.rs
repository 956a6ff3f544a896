//! The [`Tool`] trait, what a call gets ([`ToolContext`]) and what it returns
//! ([`ToolOutput`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_protocol::ToolSpec;
use tokio_util::sync::CancellationToken;

use crate::workspace::{self, PathError};

/// How long any one HTTP request made by the default client may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many redirects the default client follows before giving up.
const HTTP_MAX_REDIRECTS: usize = 5;

/// A tool the model can call. Implementations must not block the async runtime
/// for long (use `tokio::fs` or `spawn_blocking`) and must turn every failure into
/// an error [`ToolOutput`], never a panic.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// Name, short description and JSON Schema of the arguments, as offered to the model.
    fn spec(&self) -> ToolSpec;

    /// Run the tool with the model's (already JSON-parsed) arguments.
    async fn call(&self, args: serde_json::Value, ctx: &ToolContext) -> ToolOutput;

    /// True when a call only reads (files, the web, memory) and changes nothing, so it
    /// may run at the same time as other reading calls of the same step. Anything that
    /// writes, runs a command or is unknown says false and runs alone, in call order.
    fn is_read_only(&self) -> bool {
        false
    }
}

/// The text a tool call returns to the model, and whether it is an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }

    pub fn error(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
        }
    }
}

/// What every tool call can use: the workspace it is confined to, the turn's
/// cancellation token and a shared HTTP client.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The workspace root, canonical (symlinks resolved, absolute).
    pub workspace: PathBuf,
    /// Cancelled when the user stops the turn; long tools check it and stop early.
    pub cancel: CancellationToken,
    /// Shared HTTP client for tools that need one; see [`default_http_client`].
    /// `web_fetch` does not use it: it builds its own client, which enforces its
    /// address policy.
    pub http: reqwest::Client,
    /// What the file tools may touch inside the workspace.
    pub files: FileAccess,
}

/// Limits on the file tools beyond "inside the workspace", matching what the sandbox
/// lets a command do, so a file tool is never a way around it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAccess {
    /// No writes at all (`--sandbox read-only`).
    pub read_only: bool,
    /// Canonical paths inside the workspace the file tools neither read nor write:
    /// Hearth's own home (config, secrets, state) when the workspace contains it.
    pub private: Vec<PathBuf>,
}

impl ToolContext {
    /// `path` (as the model gave it) resolved for reading: inside the workspace and not
    /// private.
    pub fn resolve_read(&self, path: &str) -> Result<PathBuf, PathError> {
        let resolved = workspace::resolve_for_read(&self.workspace, path)?;
        self.check_private(path, &resolved)?;
        Ok(resolved)
    }

    /// `path` resolved for writing: inside the workspace, not private, not in a `.git`
    /// folder (as in the sandbox, a repository's history is read-only), and only when
    /// the sandbox mode allows writing at all.
    pub fn resolve_write(&self, path: &str) -> Result<PathBuf, PathError> {
        if self.files.read_only {
            return Err(PathError::ReadOnly {
                path: path.to_string(),
            });
        }
        let resolved = workspace::resolve_for_write(&self.workspace, path)?;
        let inside = resolved.strip_prefix(&self.workspace).unwrap_or(&resolved);
        if inside.components().any(|c| c.as_os_str() == ".git") {
            return Err(PathError::GitDir {
                path: path.to_string(),
            });
        }
        self.check_private(path, &resolved)?;
        Ok(resolved)
    }

    /// Whether the file tools must skip `path` (a canonical path) when walking folders.
    pub fn is_private(&self, path: &Path) -> bool {
        self.files.private.iter().any(|p| path.starts_with(p))
    }

    fn check_private(&self, path: &str, resolved: &Path) -> Result<(), PathError> {
        if self.is_private(resolved) {
            return Err(PathError::Private {
                path: path.to_string(),
            });
        }
        Ok(())
    }
}

/// Why a [`ToolContext`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("workspace '{path}' cannot be opened: {source}; check that the folder exists and is readable")]
    Workspace {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}; check the system's TLS setup")]
    Http(#[from] reqwest::Error),
}

impl ToolContext {
    /// A context for `workspace` (canonicalized here) with a fresh cancellation token
    /// and the [`default_http_client`].
    pub fn new(workspace: impl AsRef<Path>) -> Result<Self, ContextError> {
        let path = workspace.as_ref();
        let workspace = std::fs::canonicalize(path).map_err(|source| ContextError::Workspace {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            workspace,
            cancel: CancellationToken::new(),
            http: default_http_client()?,
            files: FileAccess::default(),
        })
    }
}

/// An HTTP client suited to `web_fetch`: 30 s timeout, at most 5 redirects, a
/// Hearth user agent. Proxies come from the environment as usual.
pub fn default_http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(HTTP_MAX_REDIRECTS))
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .build()
}
