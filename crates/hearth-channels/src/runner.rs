//! `TurnRunner`: the one thing the channel layer needs from whatever runs turns (the
//! gateway's `SessionHub`), kept small so this crate never depends on the gateway.

use async_trait::async_trait;
use tokio::sync::mpsc;

/// What a running turn tells the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerEvent {
    /// Policy needs a person: ask in the chat, answer with [`TurnRunner::answer_approval`].
    ApprovalRequested {
        id: String,
        command: String,
        reason: String,
    },
    /// The turn's answer (its last event).
    Final { text: String },
    /// The turn could not run or failed (its last event).
    Error { message: String },
    /// The turn was cut short because the runner is shutting down (its last event):
    /// nothing is replied and the message runs again on the next start.
    Interrupted,
}

/// Why a turn did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The session runs another turn.
    #[error("a turn is already running in this chat; send /stop to cancel it")]
    Busy,
    #[error("{0}")]
    Other(String),
}

/// Runs turns for the router.
#[async_trait]
pub trait TurnRunner: Send + Sync + 'static {
    /// Opens a new session titled `title`; returns its id.
    async fn create_session(&self, title: &str) -> Result<String, String>;

    /// Starts a turn with `text` in `session_id`; its events end with `Final` or `Error`.
    async fn start_turn(
        &self,
        session_id: &str,
        text: &str,
    ) -> Result<mpsc::UnboundedReceiver<RunnerEvent>, StartError>;

    /// Cancels the session's running turn; `false` when none was running.
    async fn cancel(&self, session_id: &str) -> bool;

    /// Answers a pending approval question; `false` when it was no longer waiting.
    fn answer_approval(&self, id: &str, approve: bool) -> bool;
}
