//! [`McpToolset`]: all configured servers. Nothing starts when it is made; the servers
//! start (concurrently) when the tools are first asked for, which the binary does when it
//! builds an agent for a turn, never for `--version`, `context` or `sessions`.

use std::sync::Arc;

use futures_util::future::join_all;
use hearth_tools::Tool;

use crate::client::{McpClient, McpError};
use crate::settings::ServerSettings;
use crate::tool::McpTool;

/// What `hearth mcp list` shows for one server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub transport: String,
    /// `running` or `failed`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tools: Vec<ToolSummary>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolSummary {
    /// The name the model sees (`SERVER__tool`).
    pub name: String,
    pub description: String,
}

/// The configured MCP servers.
#[derive(Default)]
pub struct McpToolset {
    clients: Vec<Arc<McpClient>>,
    /// The tools of the first successful listing, kept so that every turn of a process
    /// offers byte-identical schemas (the stable prompt prefix).
    listed: tokio::sync::Mutex<Option<Vec<Arc<dyn Tool>>>>,
}

impl McpToolset {
    /// The servers of `settings`; none is started yet.
    pub fn new(settings: Vec<ServerSettings>) -> Self {
        Self {
            clients: settings
                .into_iter()
                .map(|s| Arc::new(McpClient::new(s)))
                .collect(),
            listed: tokio::sync::Mutex::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn clients(&self) -> &[Arc<McpClient>] {
        &self.clients
    }

    /// Starts every server (concurrently) and returns their tools, server by server in
    /// config order. A server that fails is left out and its error returned, so one
    /// broken server never stops a turn. The first listing is kept: later calls return
    /// the same tools without asking the servers again (a server that failed to start
    /// stays out until the process restarts; one that dies later is restarted by its
    /// next call).
    pub async fn tools(&self) -> (Vec<Arc<dyn Tool>>, Vec<McpError>) {
        let mut listed = self.listed.lock().await;
        if let Some(tools) = listed.as_ref() {
            return (tools.clone(), Vec::new());
        }
        let (tools, errors) = self.list_now().await;
        *listed = Some(tools.clone());
        (tools, errors)
    }

    async fn list_now(&self) -> (Vec<Arc<dyn Tool>>, Vec<McpError>) {
        let listings = join_all(self.clients.iter().map(|c| c.list_tools())).await;
        let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
        let mut errors = Vec::new();
        for (client, listing) in self.clients.iter().zip(listings) {
            match listing {
                Ok(infos) => tools.extend(
                    infos
                        .iter()
                        .map(|info| Arc::new(McpTool::new(client.clone(), info)) as Arc<dyn Tool>),
                ),
                Err(err) => errors.push(err),
            }
        }
        (tools, errors)
    }

    /// Starts every server and reports its state and tools.
    pub async fn status(&self) -> Vec<ServerStatus> {
        let listings = join_all(self.clients.iter().map(|c| c.list_tools())).await;
        self.clients
            .iter()
            .zip(listings)
            .map(|(client, listing)| {
                let (state, error, tools) = match listing {
                    Ok(infos) => (
                        "running",
                        None,
                        infos
                            .iter()
                            .map(|info| {
                                let spec = McpTool::new(client.clone(), info).spec();
                                ToolSummary {
                                    name: spec.name,
                                    description: info
                                        .description
                                        .as_deref()
                                        .unwrap_or("")
                                        .to_string(),
                                }
                            })
                            .collect(),
                    ),
                    Err(err) => ("failed", Some(err.to_string()), Vec::new()),
                };
                ServerStatus {
                    name: client.name().to_string(),
                    transport: client.settings().transport.to_string(),
                    state: state.to_string(),
                    error,
                    tools,
                }
            })
            .collect()
    }

    /// Stops every server that is running.
    pub async fn shutdown(&self) {
        join_all(self.clients.iter().map(|c| c.shutdown())).await;
    }
}
