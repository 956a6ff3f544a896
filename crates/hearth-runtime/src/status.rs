//! What a running Hearth is set up with, for a front end's status view (the gateway's
//! `GET /api/status`): the model, the sandbox mechanism and policy, every outbound
//! destination (what `hearth doctor` lists), the skills and the MCP servers.

use serde::Serialize;

use crate::Resolved;

/// The set-up a status page shows. Serialised as the gateway's `/api/status` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeStatus {
    /// The model of new sessions (`None`: see `model_error`).
    pub model: Option<String>,
    /// Why no model is configured, when none is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_error: Option<String>,
    pub workspace: String,
    /// The sandbox mechanism that works here (`bubblewrap (/usr/bin/bwrap)`, ...).
    pub sandbox_mechanism: String,
    /// Whether sandboxed modes can run at all.
    pub sandbox_available: bool,
    pub sandbox_mode: String,
    pub approval: String,
    /// Network inside sandboxed commands.
    pub network: bool,
    /// Every place Hearth may contact, as `(what, where)`.
    pub outbound: Vec<Destination>,
    pub skills: Vec<SkillStatus>,
    pub mcp_servers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub name: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillStatus {
    pub name: String,
    pub description: String,
}

impl Resolved {
    /// The status of this runtime; `model` is the front end's default model, if it
    /// chose one. Probes the sandbox once (blocking, a few milliseconds; then
    /// remembered), so call it off an async worker.
    pub fn status(&self, model: Option<&str>) -> RuntimeStatus {
        let mechanism = hearth_sandbox::probe_with(&self.env.sandbox);
        let web_fetch = if self.config.web_allow_private_addresses {
            "any http(s) URL the model asks for, loopback and private addresses included"
        } else {
            "any public http(s) URL the model asks for (loopback, private and link-local refused)"
        };
        let (model, model_error) = match self.model(model) {
            Ok(model) => (Some(model.to_string()), None),
            Err(err) => (None, Some(err.to_string())),
        };
        RuntimeStatus {
            model,
            model_error,
            workspace: self.workspace.display().to_string(),
            sandbox_available: !matches!(mechanism, hearth_sandbox::Mechanism::Unavailable { .. }),
            sandbox_mechanism: mechanism.to_string(),
            sandbox_mode: self.sandbox.mode.to_string(),
            approval: self.approval.to_string(),
            network: self.sandbox.network,
            outbound: vec![
                destination("openai", &self.config.openai.base_url),
                destination("anthropic", &self.config.anthropic.base_url),
                destination("web_fetch", web_fetch),
            ],
            skills: self
                .skills
                .skills
                .iter()
                .map(|skill| SkillStatus {
                    name: skill.meta.name.clone(),
                    description: skill.meta.description.clone(),
                })
                .collect(),
            mcp_servers: self
                .mcp
                .clients()
                .iter()
                .map(|client| client.name().to_string())
                .collect(),
        }
    }
}

fn destination(name: &str, target: &str) -> Destination {
    Destination {
        name: name.to_string(),
        target: target.to_string(),
    }
}
