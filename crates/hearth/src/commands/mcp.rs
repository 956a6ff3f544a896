//! `hearth mcp list|serve`: the configured MCP servers with their state and tools, and
//! Hearth itself as an MCP server on stdio (`ask` runs a whole agent turn).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};
use hearth_mcp::{Ask, HearthMcpServer, McpToolset};
use hearth_memory::tools::{MemoryGet, MemorySearch, MemoryWrite};
use hearth_models::ModelRef;
use hearth_protocol::AgentEvent;
use hearth_store::Store;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver, Tool};
use tokio_util::sync::CancellationToken;

use crate::cli::AgentArgs;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};
use crate::wiring::{resolve, Resolved};

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Start each server of [mcp.servers.*] in config.toml and show its state and tools.
    List {
        /// Print a JSON array of {name, transport, state, error?, tools}.
        #[arg(long)]
        json: bool,
    },
    /// Serve Hearth over MCP on stdin/stdout: `ask` runs a whole agent turn.
    Serve {
        #[command(flatten)]
        agent: AgentArgs,
    },
}

pub async fn mcp(args: McpArgs) -> Result<ExitCode> {
    match args.command {
        McpCommand::List { json } => list(json).await,
        McpCommand::Serve { agent } => serve(agent).await,
    }
}

async fn list(json: bool) -> Result<ExitCode> {
    let resolved = resolve(&no_agent_flags())?;
    let toolset = McpToolset::new(resolved.config.mcp_servers.clone());
    let status = toolset.status().await;
    toolset.shutdown().await;
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&status)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if status.is_empty() {
        println!(
            "no MCP servers configured (add [mcp.servers.NAME] with command or url to config.toml)"
        );
    }
    for server in &status {
        println!("{}  {}  ({})", server.name, server.state, server.transport);
        if let Some(error) = &server.error {
            println!("    {}", escape_for_terminal(error, Layout::Lines));
        }
        for tool in &server.tools {
            let description = tool.description.lines().next().unwrap_or("");
            println!(
                "    {}  {}",
                escape_for_terminal(&tool.name, Layout::OneLine),
                escape_for_terminal(description, Layout::OneLine)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn no_agent_flags() -> AgentArgs {
    AgentArgs {
        model: None,
        workspace: None,
        resume: None,
        sandbox: None,
        approval: None,
        max_steps: None,
        no_stream: false,
    }
}

/// Never asks: stdin and stdout carry MCP, so there is no one to ask; the model is told no.
struct NoTerminal;

#[async_trait::async_trait]
impl Approver for NoTerminal {
    async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Deny {
            reason:
                "Hearth is running as an MCP server, so no one can approve leaving the sandbox; \
                     do it inside the sandbox or say what is needed"
                    .into(),
        }
    }
}

/// `ask`: one agent turn per call, in a new session or the one named.
struct AgentAsker {
    resolved: Resolved,
    model: ModelRef,
    store: Arc<Store>,
}

#[async_trait::async_trait]
impl Ask for AgentAsker {
    async fn ask(
        &self,
        prompt: String,
        session_id: Option<String>,
        cancel: CancellationToken,
    ) -> Result<(String, String), String> {
        let session = match session_id {
            Some(id) => self.store.session(&id).map_err(|e| e.to_string())?,
            None => self
                .store
                .create_session(&self.model.to_string(), &self.resolved.workspace)
                .map_err(|e| e.to_string())?,
        };
        let agent = self
            .resolved
            .agent(
                self.model.clone(),
                self.store.clone(),
                &session.id,
                Arc::new(NoTerminal),
            )
            .map_err(|e| format!("{e:#}"))?;
        let mut emit = |_event: AgentEvent| {};
        let outcome = agent
            .run_turn(
                &session.id,
                &self.resolved.expand_skill_mentions(&prompt),
                &mut emit,
                &cancel,
            )
            .await
            .map_err(|e| e.to_string())?;
        if outcome.end.succeeded() {
            return Ok((outcome.text, session.id));
        }
        Err(format!(
            "the turn stopped ({:?}) after {} steps; last text: {}; continue with session_id {}",
            outcome.end, outcome.steps, outcome.text, session.id
        ))
    }
}

async fn serve(agent_args: AgentArgs) -> Result<ExitCode> {
    let mut resolved = resolve(&agent_args)?;
    let model = resolved.model(agent_args.model.as_deref())?;
    resolved.report_skill_problems();
    resolved.start_mcp().await;
    // Remembered for the agents built later: an Ollama model's own sampling settings.
    resolved.ollama_server(&model).await;
    let store = resolved.open_store()?;
    let tool_context = resolved.tool_context(CancellationToken::new())?;
    let memory = resolved.memory()?;
    let memory_tools: Vec<Arc<dyn Tool>> = vec![
        Arc::new(MemorySearch {
            memory: memory.clone(),
        }),
        Arc::new(MemoryGet {
            memory: memory.clone(),
        }),
        Arc::new(MemoryWrite { memory }),
    ];
    let asker = AgentAsker {
        resolved,
        model,
        store,
    };
    let server = HearthMcpServer::new(Arc::new(asker), memory_tools, tool_context);
    server.serve_stdio().await.map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}
