//! What a step's tools are told when untrusted content is in the context the model saw
//! ([`hearth_tools::TaintedStep`]): its sources, so the files they write are marked
//! untrusted (`hearth_tools::untrusted_files`); the injection policy's `web_fetch`
//! rule, which every redirect hop must pass as the first URL did; and the policy's
//! instruction paths (`AGENTS.md`, `skills/`, `.hearth/`), which `exec` keeps read-only
//! for its commands (`hearth_tools::protected_paths`). The last two only when the mode
//! is not `off`.

use std::path::Path;
use std::sync::Arc;

use hearth_tools::{ProtectedPaths, RedirectRule, TaintedStep, ToolContext};

use crate::injection_policy::{instruction_name, InjectionMode, ProposedCall};
use crate::taint::TurnTaint;
use crate::turn::Agent;

impl Agent {
    /// `base` for the tools of a step whose context has `taint`: unchanged when it is
    /// clean, else carrying the [`TaintedStep`].
    pub(crate) fn step_context(&self, base: &ToolContext, taint: &TurnTaint) -> ToolContext {
        if !taint.is_tainted() {
            return base.clone();
        }
        let policy = &self.settings.injection.policy;
        let redirect_rule = (policy.mode != InjectionMode::Off).then(|| {
            let policy = policy.clone();
            let taint = taint.clone();
            let workspace = base.workspace.clone();
            Arc::new(move |url: &str| {
                let arguments = serde_json::json!({ "url": url });
                let call = ProposedCall {
                    name: "web_fetch",
                    arguments: &arguments,
                    workspace: &workspace,
                    declared: None,
                };
                policy.guarded_by(&taint, &call).is_none()
            }) as RedirectRule
        });
        let protected = (policy.mode != InjectionMode::Off).then(|| {
            let workspace = base.workspace.clone();
            Arc::new(move |inside: &Path| {
                instruction_name(&inside.to_string_lossy(), &workspace).is_some()
            }) as ProtectedPaths
        });
        ToolContext {
            tainted: Some(TaintedStep {
                sources: taint.describe_sources(),
                redirect_rule,
                protected,
            }),
            ..base.clone()
        }
    }
}
