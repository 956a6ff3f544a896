//! [`ToolError`]: why a tool call failed, stated as a fact, and the one rendering of
//! it as the error result the model sees ([`ToolError::into_output`]).
//!
//! A `ToolError` is a call that produced no result (bad arguments, a refusal, a missing
//! file). A result that reports a failure of what was run (a command's non-zero exit,
//! an HTTP error page, an MCP server's own error, a sub-agent that did not finish) is
//! not one: it is an error [`ToolOutput`], because it carries what the other side said.

use std::io::ErrorKind;

use crate::{PathError, ToolOutput};

/// Why a call failed. Each message is the text after `"{tool}: "` in what the model
/// sees, worded so the model can act on it (what was wrong, what to do instead).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema: not an object, a missing or unknown
    /// field, a wrong type (`problem` names the field, as serde words it).
    #[error("invalid arguments: {problem}. Call it again with corrected arguments; {expected}")]
    Arguments { problem: String, expected: String },
    /// The argument `field` has a value the tool cannot use (an empty task, an invalid
    /// regex, an offset past the end).
    #[error("{message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
    /// What the call names does not exist (a memory, a job, a channel, the text to
    /// replace).
    #[error("{0}")]
    NotFound(String),
    /// A rule said no: the sandbox or approval policy, the address policy, a size
    /// limit, the user's answer. The message names the rule.
    #[error("{0}")]
    Refused(String),
    /// The thing named is not of the kind the tool works on (a directory given to
    /// `read_file`, a binary file, a file given to `list_dir`).
    #[error("{0}")]
    WrongKind(String),
    /// A path the model gave cannot be used.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Reading or writing `path` (as the model gave it) failed.
    #[error("cannot access '{path}': {source}; {hint}", hint = io_hint(.source))]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Something outside took too long to answer.
    #[error("{0}")]
    TimedOut(String),
    /// The turn was cancelled before the call finished.
    #[error("cancelled")]
    Cancelled,
    /// The turn was cancelled before the call's work (`what`) started.
    #[error("cancelled before {0} started")]
    CancelledBeforeStart(&'static str),
    /// Anything else (a store error, a worker thread that stopped), in the tool's words.
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// The error result the model sees when the tool called `tool` fails with this:
    /// `"{tool}: {self}"`. The agent's dispatch is where a call's error becomes this
    /// (the MCP server that offers Hearth's tools uses it too), so every error the
    /// model reads names the tool it called.
    pub fn into_output(self, tool: &str) -> ToolOutput {
        ToolOutput::error(format!("{tool}: {self}"))
    }
}

/// What to do about an I/O error, by its kind.
fn io_hint(err: &std::io::Error) -> &'static str {
    match err.kind() {
        ErrorKind::NotFound => "check the path with list_dir or glob",
        ErrorKind::PermissionDenied => "the file is not accessible to Hearth",
        _ => "check the path and try again",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_names_the_tool_then_states_the_fact() {
        let out = ToolError::Io {
            path: "a.txt".into(),
            source: std::io::Error::from(ErrorKind::NotFound),
        }
        .into_output("read_file");
        assert!(out.is_error);
        assert_eq!(
            out.content,
            "read_file: cannot access 'a.txt': entity not found; check the path with list_dir or glob"
        );
        let out = ToolError::CancelledBeforeStart("the sub-agent").into_output("spawn_agent");
        assert_eq!(
            out.content,
            "spawn_agent: cancelled before the sub-agent started"
        );
    }
}
