//! [`ToolRegistry`]: the set of tools offered to the model, in a stable order.

use std::sync::Arc;

use hearth_protocol::ToolSpec;

use crate::{EditFile, Glob, Grep, ListDir, ReadFile, Tool, WebFetch, WriteFile};

/// Tools by name, kept in registration order so the spec list sent to the model is
/// byte-identical from one turn to the next.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    tools: Vec<Arc<dyn Tool>>,
}

impl ToolRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// All built-in tools: read_file, write_file, edit_file, list_dir, glob, grep,
    /// web_fetch (`exec` is registered by whoever owns the sandbox).
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        for tool in builtin_tools() {
            registry.register(tool);
        }
        registry
    }

    /// Add `tool`; a tool of the same name is replaced in place (keeping its position).
    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        match self.tools.iter().position(|t| t.name() == tool.name()) {
            Some(index) => self.tools[index] = tool,
            None => self.tools.push(tool),
        }
    }

    /// The specs of all tools, in registration order.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|t| t.spec()).collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.name() == name).cloned()
    }

    /// Tool names, in registration order.
    pub fn names(&self) -> Vec<String> {
        self.tools.iter().map(|t| t.name().to_string()).collect()
    }
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRegistry")
            .field("tools", &self.names())
            .finish()
    }
}

fn builtin_tools() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(ReadFile),
        Arc::new(WriteFile),
        Arc::new(EditFile),
        Arc::new(ListDir),
        Arc::new(Glob),
        Arc::new(Grep),
        Arc::new(WebFetch::default()),
    ]
}

/// The parameter schema of the built-in tool called `name`, for argument errors.
pub(crate) fn builtin_parameters(name: &str) -> Option<serde_json::Value> {
    builtin_tools()
        .into_iter()
        .map(|t| t.spec())
        .find(|spec| spec.name == name)
        .map(|spec| spec.parameters)
}
