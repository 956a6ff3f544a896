//! Problems the runtime met that do not stop it but a person should hear of; the front
//! end shows them (the binary through its terminal escaper).

/// One thing worth telling the user. Its text may quote file, server or model text:
/// escape it before it reaches a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A skill left out or shadowed, and why.
    Skill(String),
    /// An MCP server left out before starting (a missing secret in its `env`).
    McpServerLeftOut { server: String, reason: String },
    /// An MCP server that failed to start or list its tools.
    McpStart(String),
    /// The model's context window is smaller than a turn needs.
    ContextWindow(String),
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Skill(problem) => write!(f, "skills: {problem}"),
            Self::McpServerLeftOut { server, reason } => {
                write!(f, "MCP server '{server}' is left out: {reason}")
            }
            Self::McpStart(error) => write!(f, "{error}"),
            Self::ContextWindow(warning) => write!(f, "warning: {warning}"),
        }
    }
}
