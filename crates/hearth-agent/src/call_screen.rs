//! The loop's side of the injection policy: before a step's calls run, each is judged
//! against the taint of the context the model saw ([`TurnTaint::of_context`]); a call
//! the policy refuses, or the person declines, gets a result saying why instead of
//! running.

use std::collections::HashMap;
use std::sync::Arc;

use hearth_protocol::ToolCall;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};

use crate::history::History;
use crate::injection_policy::{InjectionPolicy, PolicyDecision, PolicyReason, ProposedCall};
use crate::taint::{TaintSource, TurnTaint};
use crate::turn::Agent;

/// The injection policy and whoever answers its questions (`AgentSettings::injection`).
#[derive(Clone, Default)]
pub struct InjectionGuard {
    pub policy: InjectionPolicy,
    /// Asked in `ask` mode; `None` (no terminal, a non-interactive run) means "no".
    pub approver: Option<Arc<dyn Approver>>,
}

impl std::fmt::Debug for InjectionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InjectionGuard")
            .field("policy", &self.policy)
            .field("approver", &self.approver.is_some())
            .finish()
    }
}

impl Agent {
    /// The taint of the context `history` replays, for a turn whose message says
    /// `person_text`: untrusted tool results, recalled memories of outside origin, and
    /// a compaction summary (it may carry what it summarised).
    pub(crate) fn context_taint(&self, person_text: &str, history: &History) -> TurnTaint {
        let memory = self.memory.clone();
        let untrusted_recall =
            move |text: &str| memory.as_ref().is_some_and(|m| m.recall_is_untrusted(text));
        let mut taint = TurnTaint::of_context(
            person_text,
            &history.replayed(),
            &self.tools,
            &untrusted_recall,
        );
        if history.summary.is_some() {
            taint.record(TaintSource {
                origin: "compaction summary".to_string(),
                call_id: String::new(),
            });
        }
        taint
    }

    /// For a step's `calls`, the ones that must not run, by call id, with the result
    /// each gets instead. Questions (`ask`) are put in call order before any call runs.
    pub(crate) async fn screen_calls(
        &self,
        person_text: &str,
        history: &History,
        calls: &[ToolCall],
    ) -> HashMap<String, String> {
        let guard = &self.settings.injection;
        let mut refused = HashMap::new();
        let taint = self.context_taint(person_text, history);
        if !taint.is_tainted() {
            return refused;
        }
        let empty = serde_json::Value::Object(Default::default());
        for call in calls {
            let parsed = serde_json::from_str::<serde_json::Value>(&call.arguments).ok();
            let proposed = ProposedCall {
                name: &call.name,
                arguments: parsed.as_ref().unwrap_or(&empty),
                workspace: &self.tool_context.workspace,
                declared: self
                    .tools
                    .get(&call.name)
                    .and_then(|tool| tool.declared_hints()),
            };
            let refusal = match guard.policy.decide(&taint, &proposed) {
                PolicyDecision::Allow => None,
                PolicyDecision::Refuse(reason) => Some(strict_refusal(&taint, &reason)),
                PolicyDecision::Ask(reason) => self.ask(call, &taint, &reason).await,
            };
            if let Some(refusal) = refusal {
                tracing::info!(tool = %call.name, "injection policy: {refusal}");
                refused.entry(call.id.clone()).or_insert(refusal);
            }
        }
        refused
    }

    /// Puts a guarded call to the person; `None` when they allow it.
    async fn ask(
        &self,
        call: &ToolCall,
        taint: &TurnTaint,
        reason: &PolicyReason,
    ) -> Option<String> {
        let Some(approver) = &self.settings.injection.approver else {
            return Some(format!(
                "not run: [security] injection = \"ask\" needs the person's approval ({reason}; untrusted content from {}), and no one can be asked in this run, so the answer is no. Do not retry it; tell the user what you wanted to do.",
                taint.describe_sources()
            ));
        };
        let request = ApprovalRequest {
            command: format!("{} {}", call.name, call.arguments),
            cwd: self.tool_context.workspace.clone(),
            // Shown as "hearth wants to run {reason}: {command}".
            reason: format!(
                "a guarded call after untrusted content entered the conversation (from {}); {reason}",
                taint.describe_sources()
            ),
        };
        match approver.decide(&request).await {
            ApprovalDecision::Approve | ApprovalDecision::ApproveForSession => None,
            ApprovalDecision::Deny { reason: why } => Some(format!(
                "not run: [security] injection = \"ask\" put this call to the person ({reason}) and they said no: {why}. Do not retry it unchanged."
            )),
        }
    }
}

/// The result of a call `strict` refuses: the rule, the sources, what to do instead.
fn strict_refusal(taint: &TurnTaint, reason: &PolicyReason) -> String {
    format!(
        "refused by [security] injection = \"strict\" ({reason}). Untrusted content entered this conversation from {}, so calls that could leak data or change the agent's instructions are refused unless the person named the destination in their message (or [network] allow lists the host). Do not retry it; tell the user what you wanted to do and why.",
        taint.describe_sources()
    )
}
