//! What a front end may set for one agent beyond config.toml and the environment: the
//! CLI fills it from its flags, the gateway from a request.

use std::path::PathBuf;

use hearth_sandbox::SandboxMode;
use hearth_store::{SessionInfo, Store};
use hearth_tools::ApprovalPolicy;

use crate::home::Home;
use crate::RuntimeError;

/// Per-agent settings a front end chose; `None` means "as configured".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overrides {
    /// A `provider:model` id.
    pub model: Option<String>,
    /// The agent's workspace (an existing folder); default `$HEARTH_HOME/workspace`.
    pub workspace: Option<PathBuf>,
    /// A stored session to continue (an id or a unique prefix of one).
    pub resume: Option<String>,
    pub sandbox: Option<SandboxMode>,
    pub approval: Option<ApprovalPolicy>,
    /// Model calls per turn before the turn is stopped.
    pub max_steps: Option<u32>,
    /// Stream responses (the default) or ask for whole ones.
    pub stream: bool,
}

impl Default for Overrides {
    fn default() -> Self {
        Self {
            model: None,
            workspace: None,
            resume: None,
            sandbox: None,
            approval: None,
            max_steps: None,
            stream: true,
        }
    }
}

impl Overrides {
    /// With `resume` set, the stored session, and these overrides completed from it
    /// (its model and workspace unless given again; a workspace that is gone is left
    /// to the default). Without, the overrides as they are.
    pub fn resumed(&self, home: &Home) -> Result<(Overrides, Option<SessionInfo>), RuntimeError> {
        let Some(id) = &self.resume else {
            return Ok((self.clone(), None));
        };
        let store = Store::open(&home.state_db())?;
        let session = store.session(id)?;
        let mut overrides = self.clone();
        if overrides.model.is_none() {
            overrides.model = Some(session.model.clone());
        }
        if overrides.workspace.is_none() && std::path::Path::new(&session.workspace).is_dir() {
            overrides.workspace = Some(session.workspace.clone().into());
        }
        Ok((overrides, Some(session)))
    }
}
