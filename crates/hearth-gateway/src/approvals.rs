//! Approvals over the API: when policy needs a person, the turn emits
//! `approval_requested {id, session_id, command, reason}` and waits for
//! `POST /api/approvals/{id}`; no answer within the timeout, or the turn cancelled, is a
//! deny. The runtime's `RecordingApprover` around this one records every decision in
//! the session, as the CLI's are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::hub::{TurnEvent, TurnSinkSlot};
use crate::GatewayError;

/// The question a turn asks, as its event: `{"type": "approval_requested", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename = "approval_requested")]
pub struct ApprovalRequested {
    /// What `POST /api/approvals/{id}` answers.
    pub id: String,
    pub session_id: String,
    /// The whole command, as it would run.
    pub command: String,
    pub cwd: String,
    pub reason: String,
}

/// A person's answer: `{"decision": "approve" | "deny" | "always"}` ("always": this
/// exact command for the rest of the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAnswer {
    Approve,
    Deny,
    Always,
}

/// The questions waiting for a person, each with the channel its turn waits on.
pub struct ApprovalHub {
    pending: Mutex<HashMap<String, oneshot::Sender<ApprovalDecision>>>,
    timeout: Duration,
}

impl ApprovalHub {
    pub fn new(timeout: Duration) -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    /// Answers the pending question `id`.
    pub fn answer(&self, id: &str, answer: ApprovalAnswer) -> Result<(), GatewayError> {
        let sender = self.lock().remove(id);
        let Some(sender) = sender else {
            return Err(GatewayError::ApprovalNotFound { id: id.to_string() });
        };
        let decision = match answer {
            ApprovalAnswer::Approve => ApprovalDecision::Approve,
            ApprovalAnswer::Always => ApprovalDecision::ApproveForSession,
            ApprovalAnswer::Deny => ApprovalDecision::Deny {
                reason: "the user declined through the gateway".into(),
            },
        };
        sender
            .send(decision)
            .map_err(|_| GatewayError::ApprovalNotFound { id: id.to_string() })
    }

    /// How many questions wait for an answer.
    pub fn pending_count(&self) -> usize {
        self.lock().len()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<ApprovalDecision>>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The approver of one session's agent: asks through the running turn's events.
pub(crate) struct GatewayApprover {
    pub(crate) session_id: String,
    pub(crate) hub: Arc<ApprovalHub>,
    /// The running turn's event sink and cancel token (set by the session hub).
    pub(crate) turn: TurnSinkSlot,
}

#[async_trait]
impl Approver for GatewayApprover {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        let Some(turn) = self.turn.current() else {
            return ApprovalDecision::Deny {
                reason: "no turn is running to ask the question in".into(),
            };
        };
        let id = uuid::Uuid::now_v7().to_string();
        let (answer, answered) = oneshot::channel();
        self.hub.lock().insert(id.clone(), answer);
        turn.emit(TurnEvent::ApprovalRequested(ApprovalRequested {
            id: id.clone(),
            session_id: self.session_id.clone(),
            command: request.command.clone(),
            cwd: request.cwd.to_string_lossy().into_owned(),
            reason: request.reason.clone(),
        }));
        let timeout = self.hub.timeout;
        let decision = tokio::select! {
            answer = answered => answer.unwrap_or(ApprovalDecision::Deny {
                reason: "the approval question was dropped".into(),
            }),
            () = tokio::time::sleep(timeout) => ApprovalDecision::Deny {
                reason: format!(
                    "no one answered the approval question within {} s; the command was not run",
                    timeout.as_secs()
                ),
            },
            () = turn.cancel.cancelled() => ApprovalDecision::Deny {
                reason: "the turn was cancelled".into(),
            },
        };
        self.hub.lock().remove(&id);
        decision
    }
}
