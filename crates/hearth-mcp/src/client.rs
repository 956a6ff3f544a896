//! [`McpClient`]: one configured MCP server, connected on first use, its tools listed,
//! its calls bounded by a timeout, and reconnected on the next call after it dies.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    JsonObject,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt;
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;

use crate::settings::{ServerSettings, Transport};

/// The variables of Hearth's environment a stdio server inherits (`npx` needs PATH and
/// HOME); anything else it needs goes in its `env` table.
const INHERITED_ENV: [&str; 8] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TERM",
];

type Connection = RunningService<RoleClient, ClientConfig>;

/// Bytes of a stdio server's stderr kept for error messages.
const STDERR_TAIL_BYTES: usize = 2_000;

/// Why talking to a server failed, worded for the model and the user.
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    #[error("MCP server '{server}' could not start ({transport}): {cause}{stderr}; check [mcp.servers.{server}] in config.toml and that the command runs on its own")]
    Start {
        server: String,
        transport: String,
        cause: String,
        stderr: String,
    },
    #[error("MCP server '{server}' did not answer within {secs} s{what}; it may be stuck or slow; try again, or raise call_timeout_secs in [mcp.servers.{server}]")]
    Timeout {
        server: String,
        secs: u64,
        what: String,
    },
    #[error("MCP server '{server}' stopped or lost the connection ({cause}){stderr}; it will be restarted on the next call")]
    Died {
        server: String,
        cause: String,
        stderr: String,
    },
    #[error("MCP server '{server}' refused the call: {cause}")]
    Refused { server: String, cause: String },
}

/// A tool as an MCP server lists it.
pub type McpToolInfo = rmcp::model::Tool;

/// One MCP server and its (lazily made) connection.
pub struct McpClient {
    settings: ServerSettings,
    connection: Mutex<Option<Arc<Connection>>>,
    stderr_tail: Arc<std::sync::Mutex<String>>,
}

impl McpClient {
    pub fn new(settings: ServerSettings) -> Self {
        Self {
            settings,
            connection: Mutex::new(None),
            stderr_tail: Arc::default(),
        }
    }

    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Whether a live connection is held right now.
    pub async fn is_connected(&self) -> bool {
        self.connection
            .lock()
            .await
            .as_ref()
            .is_some_and(|c| !c.is_closed())
    }

    /// Starts the server if needed, and lists its tools (all pages).
    pub async fn list_tools(&self) -> Result<Vec<McpToolInfo>, McpError> {
        let connection = self.connect().await?;
        let listing = tokio::time::timeout(
            self.settings.startup_timeout,
            connection.peer().list_all_tools(),
        );
        match listing.await {
            Ok(Ok(tools)) => Ok(tools),
            Ok(Err(err)) => Err(self.failed(err).await),
            Err(_) => Err(self.timeout(self.settings.startup_timeout, " listing its tools")),
        }
    }

    /// Calls `tool` with `arguments`, starting (or restarting) the server if needed.
    pub async fn call_tool(
        &self,
        tool: &str,
        arguments: JsonObject,
    ) -> Result<CallToolResult, McpError> {
        let connection = self.connect().await?;
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
        let call = tokio::time::timeout(self.settings.call_timeout, connection.call_tool(params));
        match call.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(err)) => Err(self.failed(err).await),
            Err(_) => Err(self.timeout(self.settings.call_timeout, &format!(" to {tool}"))),
        }
    }

    /// Closes the connection (a stdio server's process is killed).
    pub async fn shutdown(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            connection.cancellation_token().cancel();
        }
    }

    /// The live connection, or a new one.
    async fn connect(&self) -> Result<Arc<Connection>, McpError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if !connection.is_closed() {
                return Ok(connection.clone());
            }
        }
        *slot = None;
        let started = tokio::time::timeout(self.settings.startup_timeout, self.start());
        let connection = match started.await {
            Ok(result) => Arc::new(result?),
            Err(_) => return Err(self.timeout(self.settings.startup_timeout, " while starting")),
        };
        *slot = Some(connection.clone());
        Ok(connection)
    }

    async fn start(&self) -> Result<Connection, McpError> {
        let client = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("hearth", env!("CARGO_PKG_VERSION")),
        );
        let started = match &self.settings.transport {
            Transport::Stdio { command, args, env } => {
                let mut cmd = tokio::process::Command::new(command);
                // Only what a program needs to run, plus the server's own `env`: never
                // Hearth's whole environment, which holds provider keys.
                cmd.args(args)
                    .env_clear()
                    .envs(
                        INHERITED_ENV
                            .iter()
                            .filter_map(|name| std::env::var_os(name).map(|value| (*name, value))),
                    )
                    .envs(env);
                let (process, stderr) = TokioChildProcess::builder(cmd)
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map_err(|err| self.start_error(err.to_string()))?;
                if let Some(stderr) = stderr {
                    self.keep_stderr_tail(stderr);
                }
                client.serve(process).await
            }
            Transport::Http { url } => {
                // Already installed (by this or another caller) is fine.
                let _ = rustls::crypto::ring::default_provider().install_default();
                client
                    .serve(StreamableHttpClientTransport::from_uri(url.as_str()))
                    .await
            }
        };
        started.map_err(|err| self.start_error(err.to_string()))
    }

    fn keep_stderr_tail(&self, mut stderr: tokio::process::ChildStderr) {
        let tail = self.stderr_tail.clone();
        if let Ok(mut text) = tail.lock() {
            text.clear();
        }
        tokio::spawn(async move {
            let mut buffer = [0u8; 1024];
            while let Ok(read) = stderr.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                let Ok(mut text) = tail.lock() else { break };
                text.push_str(&String::from_utf8_lossy(&buffer[..read]));
                if text.len() > STDERR_TAIL_BYTES {
                    let mut cut = text.len() - STDERR_TAIL_BYTES;
                    while !text.is_char_boundary(cut) {
                        cut += 1;
                    }
                    text.drain(..cut);
                }
            }
        });
    }

    fn stderr_note(&self) -> String {
        let text = self
            .stderr_tail
            .lock()
            .map(|t| t.trim().to_string())
            .unwrap_or_default();
        if text.is_empty() {
            String::new()
        } else {
            format!("; its last output on stderr: {text}")
        }
    }

    fn start_error(&self, cause: String) -> McpError {
        McpError::Start {
            server: self.settings.name.clone(),
            transport: self.settings.transport.to_string(),
            cause,
            stderr: self.stderr_note(),
        }
    }

    fn timeout(&self, after: Duration, what: &str) -> McpError {
        McpError::Timeout {
            server: self.settings.name.clone(),
            secs: after.as_secs(),
            what: what.to_string(),
        }
    }

    /// Turns a service error into an [`McpError`]; a dead transport drops the connection
    /// so that the next call starts the server again.
    async fn failed(&self, err: ServiceError) -> McpError {
        match err {
            ServiceError::McpError(data) => McpError::Refused {
                server: self.settings.name.clone(),
                cause: data.message.to_string(),
            },
            other => {
                self.shutdown().await;
                // Give the stderr reader a moment to collect the server's last words.
                tokio::time::sleep(Duration::from_millis(50)).await;
                McpError::Died {
                    server: self.settings.name.clone(),
                    cause: other.to_string(),
                    stderr: self.stderr_note(),
                }
            }
        }
    }
}
