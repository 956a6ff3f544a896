//! [`HearthMcpServer`]: Hearth as an MCP server, so Claude Code, Codex or any MCP host
//! can hand it a task (`ask`, a whole agent turn) or use its tools directly.

use std::sync::Arc;

use hearth_tools::{Tool, ToolContext};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler, ServiceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// The name of the tool that runs a whole agent turn.
pub const ASK_TOOL: &str = "ask";

/// Runs one agent turn for `ask`; implemented by the binary, which owns the wiring.
#[async_trait::async_trait]
pub trait Ask: Send + Sync + 'static {
    /// Runs `prompt` as a user turn, in `session_id` when given (else a new session).
    /// Returns the answer and the session id, or a one-line reason.
    async fn ask(
        &self,
        prompt: String,
        session_id: Option<String>,
        cancel: CancellationToken,
    ) -> Result<(String, String), String>;
}

/// Hearth's MCP server: `ask` plus the given tools, run against `tool_context`.
#[derive(Clone)]
pub struct HearthMcpServer {
    asker: Arc<dyn Ask>,
    tools: Vec<Arc<dyn Tool>>,
    tool_context: ToolContext,
}

impl HearthMcpServer {
    pub fn new(asker: Arc<dyn Ask>, tools: Vec<Arc<dyn Tool>>, tool_context: ToolContext) -> Self {
        Self {
            asker,
            tools,
            tool_context,
        }
    }

    /// Serves MCP on stdin/stdout until the client disconnects.
    pub async fn serve_stdio(self) -> Result<(), String> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|err| format!("MCP handshake on stdio failed: {err}"))?;
        running
            .waiting()
            .await
            .map(|_| ())
            .map_err(|err| format!("the MCP server stopped unexpectedly: {err}"))
    }

    fn ask_spec() -> rmcp::model::Tool {
        let schema = json!({
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "description": "The task or question for Hearth."},
                "session_id": {"type": "string", "description": "Continue this Hearth session (returned by an earlier ask); omit to start a new one."}
            },
            "required": ["prompt"]
        });
        rmcp::model::Tool::new(
            ASK_TOOL,
            "Give Hearth, a personal agent with a sandboxed workspace, files and memory, a task; it works on it with its own tools and returns its answer and session_id.",
            as_object(schema),
        )
    }

    async fn call_ask(
        &self,
        params: CallToolRequestParams,
        cancel: CancellationToken,
    ) -> CallToolResult {
        let args = params.arguments.unwrap_or_default();
        let Some(prompt) = args.get("prompt").and_then(|p| p.as_str()) else {
            return CallToolResult::error(vec![ContentBlock::text(
                "ask: 'prompt' (a string) is required",
            )]);
        };
        let session = args
            .get("session_id")
            .and_then(|s| s.as_str())
            .map(str::to_string);
        match self.asker.ask(prompt.to_string(), session, cancel).await {
            Ok((answer, session_id)) => {
                let mut result = CallToolResult::success(vec![ContentBlock::text(answer.clone())]);
                result.structured_content =
                    Some(json!({"answer": answer, "session_id": session_id}));
                result
            }
            Err(reason) => {
                CallToolResult::error(vec![ContentBlock::text(format!("ask: {reason}"))])
            }
        }
    }
}

fn as_object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

impl ServerHandler for HearthMcpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("hearth", env!("CARGO_PKG_VERSION")))
            .with_instructions("Hearth is a personal agent. Call `ask` with a task to have it run a whole turn with its own tools.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = vec![Self::ask_spec()];
        for tool in &self.tools {
            let spec = tool.spec();
            tools.push(rmcp::model::Tool::new(
                spec.name,
                spec.description,
                as_object(spec.parameters),
            ));
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name == ASK_TOOL {
            return Ok(self.call_ask(request, context.ct.clone()).await.into());
        }
        let Some(tool) = self.tools.iter().find(|t| t.name() == request.name) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool '{}'; call tools/list for the tools Hearth offers",
                    request.name
                ),
                None,
            ));
        };
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let mut ctx = self.tool_context.clone();
        ctx.cancel = context.ct.clone();
        // Rendered as the agent's dispatch renders it, so an MCP client reads the same text.
        let output = match tool.call(args, &ctx).await {
            Ok(output) => output,
            Err(err) => err.into_output(tool.name()),
        };
        let content = vec![ContentBlock::text(output.content)];
        Ok(if output.is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        }
        .into())
    }
}
