//! Records every approval question and answer in the session before passing the answer
//! on, whichever front end asked (a terminal, later the gateway's API).

use std::sync::Arc;

use async_trait::async_trait;
use hearth_store::Store;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};

/// Wraps the approver that asks (a terminal, later the web UI) and writes each decision
/// to the session's approval log.
pub struct RecordingApprover {
    inner: Arc<dyn Approver>,
    store: Arc<Store>,
    session_id: String,
}

impl RecordingApprover {
    pub fn new(inner: Arc<dyn Approver>, store: Arc<Store>, session_id: &str) -> Self {
        Self {
            inner,
            store,
            session_id: session_id.to_string(),
        }
    }
}

#[async_trait]
impl Approver for RecordingApprover {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let decision = self.inner.decide(request).await;
        let summary = match &decision {
            ApprovalDecision::Approve => "approved".to_string(),
            ApprovalDecision::ApproveForSession => "approved for this session".to_string(),
            ApprovalDecision::Deny { reason } => format!("denied: {reason}"),
        };
        if let Err(err) = self.store.record_approval(
            &self.session_id,
            &request.command,
            &request.reason,
            &summary,
        ) {
            tracing::warn!("could not record an approval decision: {err}");
        }
        decision
    }
}
