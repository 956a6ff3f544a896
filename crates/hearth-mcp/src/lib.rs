//! MCP (Model Context Protocol) for Hearth, on the official Rust SDK `rmcp`.
//!
//! - Client: [`McpToolset`] holds the servers of `[mcp.servers.NAME]`
//!   ([`ServerSettingsFile`] → [`ServerSettings`]); [`McpToolset::tools`] starts them and
//!   offers each server tool as a `hearth_tools::Tool` named `NAME__tool`. Calls have
//!   timeouts, a dead server yields an error result and is restarted on the next call,
//!   and every result is wrapped as `<untrusted-content>`.
//! - Server: [`HearthMcpServer`] offers `ask` (a whole agent turn, through an [`Ask`]
//!   implementation the binary provides) and any extra Hearth tools, over stdio.
//!
//! Architecture invariant: nothing here prints or panics on what a server or client
//! sends; an MCP server configured by the user runs as the user (not in the sandbox),
//! like any program the user starts.

mod client;
mod server;
mod settings;
mod tool;
mod toolset;

pub use client::{McpClient, McpError, McpToolInfo};
pub use server::{Ask, HearthMcpServer};
pub use settings::{
    validate_servers, ServerSettings, ServerSettingsFile, Transport, DEFAULT_CALL_TIMEOUT_SECS,
    DEFAULT_STARTUP_TIMEOUT_SECS,
};
pub use tool::{exposed_name, render_result, wrap_untrusted, McpTool, MAX_RESULT_CHARS};
pub use toolset::{McpToolset, ServerStatus, ToolSummary};
