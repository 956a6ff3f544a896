//! The agent's built-in workspace tools (read_file, write_file, edit_file, list_dir,
//! glob, grep, web_fetch, exec), the [`Tool`] trait they share and the [`ToolRegistry`]
//! the agent loop offers to the model.
//!
//! Architecture invariant: tools never panic on model input and never touch a path
//! outside the workspace; every call returns exactly one [`ToolOutput`] or
//! [`ToolError`], worded so the model can recover (dispatch renders an error once, as
//! `"{tool}: {error}"`). `exec` runs every command through the
//! approval policy ([`ExecGate`]) and `hearth_sandbox::run`, never a process of its own.

mod approval;
mod args;
mod confined;
mod error;
mod exec;
mod files;
pub mod protected_paths;
mod registry;
mod safe_commands;
mod search;
mod text;
mod tool;
mod untrusted;
pub mod untrusted_files;
mod web;
pub mod workspace;

pub use approval::{
    is_known_safe, parse_simple_command, ApprovalDecision, ApprovalPolicy, ApprovalRequest,
    Approver,
};
pub use args::parse_args;
pub use error::ToolError;
pub use exec::{ExecGate, ExecTool};
pub use files::{EditFile, ListDir, ReadFile, WriteFile};
pub use registry::ToolRegistry;
pub use search::{Glob, Grep};
pub use text::truncate_middle;
pub use tool::{
    default_http_client, ContextError, DeclaredHints, FileAccess, ProtectedPaths, RedirectRule,
    TaintedStep, Tool, ToolContext, ToolOutput,
};
pub use untrusted::{
    carries_outside_text, contains_untrusted_block, neutralise_tag, neutralise_wrapper_tags,
    outside_text_source, without_outside_text, wrap_outside_text, wrap_untrusted,
};
pub use web::{
    fetch_target, host_is_within, hosts_named_in, url_host_port, AddressPolicy, AllowEntry,
    EgressAllowList, HostTable, WebFetch,
};
pub use workspace::PathError;
