//! Which tools a model is offered: its `[models."provider:NAME"] tools` list when config
//! has one; else, for a local model under [`SMALL_MODEL_PARAMETERS`], the few a model
//! that size can use ([`SMALL_MODEL_TOOLS`]), so the stable prefix it decodes stays
//! short; else all of them. `Resolved::agent` and `hearth context` both go through
//! [`offered_tools`] and [`restrict`], so what `context` lists is what the agent gets.

use hearth_models::ModelRef;
use hearth_tools::ToolRegistry;

use crate::config::Config;
use crate::Environment;

/// Every built-in tool's name (MCP tools are `SERVER__tool`): what a `tools` list may
/// name. `tests/runtime.rs` checks it against the tools an agent really gets.
pub const BUILT_IN_TOOLS: &[&str] = &[
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "glob",
    "grep",
    "web_fetch",
    "exec",
    "memory_search",
    "memory_get",
    "memory_write",
    "schedule_create",
    "schedule_list",
    "schedule_cancel",
    hearth_agent::SPAWN_AGENT,
];

/// Local models with fewer parameters than this get [`SMALL_MODEL_TOOLS`] by default.
pub const SMALL_MODEL_PARAMETERS: u64 = 1_000_000_000;

/// A small model's default tools: the workspace's files and commands, the tools
/// `bench/tool_calls.py` measures SmolLM2-135M on (it follows a named one, with the
/// right arguments 17 times in 22). Memory, schedules, the web and sub-agents need a
/// model that plans; their schemas would more than double the prefix it decodes.
pub const SMALL_MODEL_TOOLS: &[&str] = &[
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "glob",
    "grep",
    "exec",
];

/// The names of the tools `model` is offered; `None` is all of them.
pub fn offered_tools(config: &Config, env: &Environment, model: &ModelRef) -> Option<Vec<String>> {
    if let Some(list) = config.model_tools.get(&model.to_string()) {
        return Some(list.clone());
    }
    if model.provider != "local" {
        return None;
    }
    let parameters = hearth_local::parameter_count(&model.model, env.model_cache.as_deref())?;
    (parameters < SMALL_MODEL_PARAMETERS).then(|| {
        SMALL_MODEL_TOOLS
            .iter()
            .map(|name| name.to_string())
            .collect()
    })
}

/// `tools` without those `offered` leaves out, in their registration order (the order
/// the model sees, whatever the list's).
pub fn restrict(tools: ToolRegistry, offered: Option<&[String]>) -> ToolRegistry {
    let Some(offered) = offered else {
        return tools;
    };
    let mut kept = ToolRegistry::new();
    for name in tools.names() {
        if let Some(tool) = tools.get(&name).filter(|_| offered.contains(&name)) {
            kept.register(tool);
        }
    }
    kept
}

/// Whether `offered` includes the tool `name`.
pub fn includes(offered: Option<&[String]>, name: &str) -> bool {
    offered.is_none_or(|names| names.iter().any(|offered| offered == name))
}
