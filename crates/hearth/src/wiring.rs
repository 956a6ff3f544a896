//! The binary's edge of the runtime: command-line flags become the runtime's plain
//! [`hearth_runtime::Overrides`], the process environment (and this binary as the
//! sandbox's Landlock helper) becomes its [`Environment`], and what the runtime
//! returns as warnings is printed, escaped, on stderr.

use std::ops::{Deref, DerefMut};

use anyhow::Result;
use hearth_runtime::{Environment, RuntimeError, Warning};
use hearth_sandbox::HelperProgram;

use crate::cli::AgentArgs;
use crate::terminal_text::{escape_for_terminal, Layout};

/// The hidden first argument that makes `hearth` the sandbox's Landlock helper (see
/// hearth-sandbox): the binary re-runs itself so that one file is all there is.
pub const SANDBOX_HELPER_ARG: &str = "__sandbox-helper";

/// This process's environment, with this binary as the Landlock helper.
pub fn environment() -> Environment {
    let env = Environment::from_process();
    match std::env::current_exe() {
        Ok(program) => env.with_sandbox_helper(HelperProgram {
            program,
            args: vec![SANDBOX_HELPER_ARG.into()],
        }),
        Err(_) => env,
    }
}

/// One warning on stderr, escaped (it may quote file, server or model text).
pub fn print_warning(warning: &Warning) {
    let text = escape_for_terminal(&warning.to_string(), Layout::Lines);
    eprintln!("hearth: {text}");
}

/// The runtime's [`hearth_runtime::Resolved`] with the terminal's reporting added.
pub struct Resolved(hearth_runtime::Resolved);

impl Deref for Resolved {
    type Target = hearth_runtime::Resolved;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Resolved {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Resolves the flags against the environment and config; says on stderr what was
/// left out on the way (MCP servers whose secrets are missing).
pub fn resolve(args: &AgentArgs) -> Result<Resolved> {
    let resolved = hearth_runtime::resolve(&args.overrides(), environment())?;
    for warning in &resolved.warnings {
        print_warning(warning);
    }
    Ok(Resolved(resolved))
}

impl Resolved {
    /// Says on stderr which skills were left out or shadowed and why.
    pub fn report_skill_problems(&self) {
        for warning in self.0.skill_warnings() {
            print_warning(&warning);
        }
    }

    /// Starts the configured MCP servers; one that fails is reported and left out.
    pub async fn start_mcp(&mut self) {
        for warning in self.0.start_mcp_servers().await {
            print_warning(&warning);
        }
    }
}

/// What a person can do about `error` with this binary's flags and config file, to
/// follow its (factual) message; `None` when the message says it all.
pub fn hint_for(error: &RuntimeError) -> Option<String> {
    let config = hearth_runtime::home::Home::locate()
        .map(|home| home.config_path().display().to_string())
        .unwrap_or_else(|_| "config.toml".to_string());
    match error {
        RuntimeError::NoHome => {
            Some("set HEARTH_HOME to a directory for Hearth's state".to_string())
        }
        RuntimeError::WorkspaceNotDirectory { .. } => {
            Some("-C expects an existing folder".to_string())
        }
        RuntimeError::WorkspaceIsHome { .. } => Some("choose another folder with -C".to_string()),
        RuntimeError::NoModel { .. } => Some(format!(
            "pass --model provider:model, set HEARTH_MODEL, or put model = \"openai:gpt-4o-mini\" \
             in {config} (openai: works with OpenAI, Ollama, llama.cpp, vLLM via OPENAI_BASE_URL; \
             anthropic: needs ANTHROPIC_API_KEY)"
        )),
        RuntimeError::Secret { what, .. } => Some(format!("{what} is set in {config}")),
        _ => None,
    }
}

/// `error` as one line for a person: its causes, then the hint when the runtime's
/// error has one.
pub fn describe(error: &anyhow::Error) -> String {
    let hint = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<RuntimeError>())
        .and_then(hint_for);
    match hint {
        Some(hint) => format!("{error:#}; {hint}"),
        None => format!("{error:#}"),
    }
}
