//! The [`Tool`] trait, what a call gets ([`ToolContext`]) and what it returns
//! ([`ToolOutput`], or a [`ToolError`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use hearth_protocol::ToolSpec;
use tokio_util::sync::CancellationToken;

use crate::workspace::{self, PathError};
use crate::ToolError;

/// How long any one HTTP request made by the default client may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How many redirects the default client follows before giving up.
const HTTP_MAX_REDIRECTS: usize = 5;

/// A tool the model can call. Implementations must not block the async runtime
/// for long (use `tokio::fs` or `spawn_blocking`) and must turn every failure into
/// a [`ToolError`] (or an error [`ToolOutput`] carrying what was run's own answer),
/// never a panic.
#[async_trait::async_trait]
pub trait Tool: Send + Sync {
    /// The name the model calls the tool by: the same as `spec().name`, without
    /// building the spec (the registry looks tools up by it on every call).
    fn name(&self) -> &str;

    /// Name, short description and JSON Schema of the arguments, as offered to the model.
    fn spec(&self) -> ToolSpec;

    /// Run the tool with the model's (already JSON-parsed) arguments. An `Err` is shown
    /// to the model as `"{name}: {error}"` ([`ToolError::into_output`]).
    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError>;

    /// True when a call only reads (files, the web, memory) and changes nothing, so it
    /// may run at the same time as other reading calls of the same step. Anything that
    /// writes, runs a command or is unknown says false and runs alone, in call order.
    fn is_read_only(&self) -> bool {
        false
    }

    /// True when this result (`content`, as returned) carries text from outside the
    /// person's control: a web page, an MCP server's answer, a memory of outside origin.
    /// Such a result taints the turn it enters (`hearth_agent::TurnTaint`), after
    /// which the injection policy guards actions that can leak or persist. Decided on
    /// the stored content too, so a resumed session recomputes the same taint. The
    /// default: false (the person's own workspace and commands).
    fn output_is_untrusted(&self, content: &str) -> bool {
        let _ = content;
        false
    }

    /// What a tool from outside Hearth says about its own calls (an MCP server's tool
    /// annotations), which the injection policy reads: `None` for Hearth's own tools,
    /// which the policy knows by name.
    fn declared_hints(&self) -> Option<DeclaredHints> {
        None
    }
}

/// A tool's word about its calls, as MCP's tool annotations give it (`readOnlyHint`,
/// `destructiveHint`, `openWorldHint`): hints from the tool's server, each `None` when
/// the server said nothing. Missing means the MCP spec's default: not read-only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeclaredHints {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub open_world: Option<bool>,
}

impl DeclaredHints {
    /// Whether the tool said it changes nothing (`readOnlyHint: true`).
    pub fn is_read_only(&self) -> bool {
        self.read_only == Some(true)
    }

    /// Whether the tool said it only adds to the person's own data and reaches no one:
    /// `readOnlyHint: false`, `destructiveHint: false` and `openWorldHint: false`, each
    /// said (a missing hint is the spec's default: destructive, open-world).
    pub fn is_private_write(&self) -> bool {
        self.read_only == Some(false)
            && self.destructive == Some(false)
            && self.open_world == Some(false)
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
    /// Set by the loop for a step whose context holds untrusted content (see
    /// [`TaintedStep`]); `None` in a clean one.
    pub tainted: Option<TaintedStep>,
}

/// Whether `web_fetch` may follow a redirect to a URL (see [`TaintedStep`]).
pub type RedirectRule = std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>;
/// Whether a path, relative to the workspace, steers the agent (see [`TaintedStep`]).
pub type ProtectedPaths = std::sync::Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// What the tools of one step are told when untrusted content is in the context the
/// model saw: the files they write are marked untrusted (`crate::untrusted_files`), and
/// `web_fetch` follows a redirect only where the injection policy would let it go.
#[derive(Clone)]
pub struct TaintedStep {
    /// Where the untrusted content came from ("web_fetch (call c1)"), for marks.
    pub sources: String,
    /// Whether `web_fetch` may follow a redirect to this URL: the injection policy's
    /// rule for a `web_fetch` call to it (a hop to the first URL's own host is always
    /// followed: the policy or the person let that host be reached); `None`: any hop
    /// the allow-list lets through (`[security] injection = "off"`).
    pub redirect_rule: Option<RedirectRule>,
    /// Whether a path (relative to the workspace) steers the agent (`AGENTS.md`,
    /// `skills/`, `.hearth/`): `exec` keeps those that exist read-only for the command
    /// and removes those it created (`crate::untrusted_files`); `None`: none
    /// (`[security] injection = "off"`).
    pub protected: Option<ProtectedPaths>,
}

impl std::fmt::Debug for TaintedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaintedStep")
            .field("sources", &self.sources)
            .field("redirect_rule", &self.redirect_rule.is_some())
            .field("protected", &self.protected.is_some())
            .finish()
    }
}

/// Limits on the file tools beyond "inside the workspace", matching what the sandbox
/// lets a command do, so a file tool is never a way around it. Build it with
/// [`FileAccess::from_policy`], the one place it is derived from the sandbox policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileAccess {
    /// No writes at all (`--sandbox read-only`).
    pub read_only: bool,
    /// Canonical paths inside the workspace the file tools neither read nor write:
    /// the sandbox's hidden paths that lie there (Hearth's home with `-C ~`).
    pub private: Vec<PathBuf>,
    /// Canonical paths inside a private one that may be read, never written: the
    /// sandbox's readable paths (`$HEARTH_HOME/skills`).
    pub readable: Vec<PathBuf>,
}

impl FileAccess {
    /// What the file tools may touch when commands run under `policy`: no writes in
    /// `read-only`; the policy's hidden paths inside the workspace neither read nor
    /// written, its readable paths inside those read only. (`.git` folders are
    /// refused for writing by [`ToolContext::resolve_write`] in every mode, as the
    /// sandbox makes them read-only.) Paths that do not exist are left out, as the
    /// sandbox leaves them out.
    pub fn from_policy(policy: &hearth_sandbox::SandboxPolicy) -> FileAccess {
        let workspace =
            std::fs::canonicalize(&policy.workspace).unwrap_or_else(|_| policy.workspace.clone());
        let inside = |paths: &[PathBuf]| -> Vec<PathBuf> {
            paths
                .iter()
                .filter_map(|path| std::fs::canonicalize(path).ok())
                .filter(|path| path.starts_with(&workspace))
                .collect()
        };
        let private = inside(&policy.hidden_paths);
        let readable = inside(&policy.readable_paths)
            .into_iter()
            .filter(|path| private.iter().any(|hidden| path.starts_with(hidden)))
            .collect();
        FileAccess {
            read_only: policy.mode == hearth_sandbox::SandboxMode::ReadOnly,
            private,
            readable,
        }
    }
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
        if self.files.readable.iter().any(|p| resolved.starts_with(p)) {
            return Err(PathError::Private {
                path: path.to_string(),
            });
        }
        Ok(resolved)
    }

    /// Whether the file tools must skip `path` (a canonical path) when walking folders
    /// or reading: inside a private path and not inside one of its readable paths.
    pub fn is_private(&self, path: &Path) -> bool {
        self.files.private.iter().any(|p| path.starts_with(p))
            && !self.files.readable.iter().any(|p| path.starts_with(p))
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
            tainted: None,
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
