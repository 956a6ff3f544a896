//! The chat channels inside `hearth serve`: the session hub as the channel layer's
//! [`TurnRunner`], and [`start_channels`], which starts each configured channel (its
//! token resolved from the secret store here, at the boundary) until the gateway closes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hearth_channels::{
    ChannelDirectory, ChannelSendTool, ChannelService, RunnerEvent, ServiceSettings, StartError,
    TelegramChannel, TelegramSettings, TurnRunner,
};
use hearth_protocol::{AgentEvent, TurnEnd};
use hearth_store::Store;
use tokio::sync::mpsc;

use crate::approvals::{ApprovalAnswer, ApprovalHub};
use crate::hub::{NewSession, SessionHub, TurnEvent};
use crate::{AppState, GatewayError};

mod email;
mod matrix;

/// Tools the hub adds to each session's agent, given the session's approver.
pub type SessionTools =
    Arc<dyn Fn(Arc<dyn hearth_tools::Approver>) -> Vec<Arc<dyn hearth_tools::Tool>> + Send + Sync>;

/// The session hub seen from a channel.
pub struct HubTurnRunner {
    sessions: Arc<SessionHub>,
    approvals: Arc<ApprovalHub>,
}

impl HubTurnRunner {
    pub fn new(state: &AppState) -> Self {
        Self {
            sessions: state.sessions.clone(),
            approvals: state.approvals.clone(),
        }
    }
}

#[async_trait]
impl TurnRunner for HubTurnRunner {
    async fn create_session(&self, title: &str) -> Result<String, String> {
        let new = NewSession {
            title: Some(title.to_string()),
            ..NewSession::default()
        };
        self.sessions
            .create_session(new)
            .await
            .map(|session| session.id)
            .map_err(|err| err.to_string())
    }

    async fn start_turn(
        &self,
        session_id: &str,
        text: &str,
    ) -> Result<mpsc::UnboundedReceiver<RunnerEvent>, StartError> {
        let mut turn =
            self.sessions
                .start_turn(session_id, text)
                .await
                .map_err(|err| match err {
                    GatewayError::TurnRunning { .. } => StartError::Busy,
                    other => StartError::Other(other.to_string()),
                })?;
        let (events, receiver) = mpsc::unbounded_channel();
        let closing = self.sessions.closing();
        tokio::spawn(async move {
            while let Some(event) = turn.events.recv().await {
                let forwarded = match event {
                    TurnEvent::ApprovalRequested(question) => RunnerEvent::ApprovalRequested {
                        id: question.id,
                        command: question.command,
                        reason: question.reason,
                    },
                    TurnEvent::Agent(AgentEvent::Final { end, .. })
                        if end == TurnEnd::Cancelled && closing.is_cancelled() =>
                    {
                        RunnerEvent::Interrupted
                    }
                    TurnEvent::Agent(AgentEvent::Final { text, .. }) => RunnerEvent::Final { text },
                    TurnEvent::Agent(AgentEvent::Error { message, .. }) => {
                        RunnerEvent::Error { message }
                    }
                    TurnEvent::Agent(_) => continue,
                };
                if events.send(forwarded).is_err() {
                    return;
                }
            }
        });
        Ok(receiver)
    }

    async fn cancel(&self, session_id: &str) -> bool {
        self.sessions.cancel(session_id).await.unwrap_or(false)
    }

    fn answer_approval(&self, id: &str, approve: bool) -> bool {
        let answer = if approve {
            ApprovalAnswer::Approve
        } else {
            ApprovalAnswer::Deny
        };
        self.approvals.answer(id, answer).is_ok()
    }
}

/// The channels a gateway started.
#[derive(Default)]
pub struct RunningChannels {
    pub names: Vec<String>,
    /// The running channels by name, for proactive messages (schedules' delivery).
    pub directory: Arc<ChannelDirectory>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningChannels {
    /// Waits (at most `limit`) for the channels to stop, after the gateway began to
    /// shut down, so a restarted gateway never polls beside the old one.
    pub async fn wait(self, limit: Duration) {
        let all = futures_util::future::join_all(self.tasks);
        let _ = tokio::time::timeout(limit, all).await;
    }
}

/// Starts every channel in `[channels]` on `store`; they stop when the gateway begins
/// to shut down.
pub fn start_channels(
    state: &AppState,
    store: Arc<Store>,
) -> Result<RunningChannels, GatewayError> {
    let mut started = RunningChannels::default();
    let runtime = &state.runtime;
    let directory = started.directory.clone();
    if let Some(telegram) = &runtime.config.channels.telegram {
        let token = match hearth_secrets::secret_reference(&telegram.token) {
            Some(name) => runtime.secrets().get(name).map_err(|err| {
                GatewayError::Internal(format!("[channels.telegram] token: {err}"))
            })?,
            None => telegram.token.clone(),
        };
        let mut settings = TelegramSettings::new(token);
        settings.api_base = telegram.api_base.clone();
        settings.poll_timeout = Duration::from_secs(telegram.poll_timeout_secs);
        let channel = TelegramChannel::new(settings)
            .map_err(|err| GatewayError::Internal(err.to_string()))?;
        let mut service_settings = ServiceSettings::new(runtime.workspace.join("inbox"));
        service_settings.allowed_users =
            telegram.allowed_users.iter().map(i64::to_string).collect();
        service_settings.max_file_bytes = telegram.max_file_bytes;
        let service = ChannelService::new(
            Arc::new(channel),
            Arc::new(HubTurnRunner::new(state)),
            store.clone(),
            service_settings,
            state.sessions.closing(),
        );
        directory.add(service.clone());
        started.names.push(service.name().to_string());
        started.tasks.push(tokio::spawn(service.run()));
    }
    if let Some(matrix) = &runtime.config.channels.matrix {
        let service = matrix::matrix_service(state, matrix, store.clone())?;
        directory.add(service.clone());
        started.names.push(service.name().to_string());
        started.tasks.push(tokio::spawn(service.run()));
    }
    if let Some(email) = &runtime.config.channels.email {
        let service = email::email_service(state, email, store.clone())?;
        directory.add(service.clone());
        started.names.push(service.name().to_string());
        started.tasks.push(tokio::spawn(service.run()));
    }
    if !started.names.is_empty() {
        // Every session gets `channel_send`, asking through its own approver.
        let policy = runtime.approval;
        state.sessions.set_session_tools(Arc::new(move |approver| {
            let tool: Arc<dyn hearth_tools::Tool> =
                Arc::new(ChannelSendTool::new(directory.clone(), approver, policy));
            vec![tool]
        }));
    }
    Ok(started)
}
