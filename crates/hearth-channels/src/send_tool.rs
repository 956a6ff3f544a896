//! `channel_send {channel, to, text}`: the agent writes to a chat without an incoming
//! message. It leaves the machine, so it always asks the person first (under approval
//! `never` it is refused, as anything needing approval is), and it reaches only chats
//! of senders who may talk to the agent (`allowed_users`, admitted, or a chat that has a
//! session), never an arbitrary id.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use hearth_protocol::ToolSpec;
use hearth_tools::{
    parse_args, ApprovalDecision, ApprovalPolicy, ApprovalRequest, Approver, Tool, ToolContext,
    ToolError, ToolOutput,
};
use serde::Deserialize;

use crate::service::ChannelService;

/// The running channels, by name, for proactive messages (`channel_send`, schedules).
#[derive(Default)]
pub struct ChannelDirectory {
    channels: RwLock<BTreeMap<String, Arc<ChannelService>>>,
}

impl std::fmt::Debug for ChannelDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelDirectory")
            .field("channels", &self.names())
            .finish()
    }
}

impl ChannelDirectory {
    pub fn add(&self, service: Arc<ChannelService>) {
        self.channels
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(service.name().to_string(), service);
    }

    pub fn get(&self, name: &str) -> Option<Arc<ChannelService>> {
        self.channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.channels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

/// The `channel_send` tool of one session.
pub struct ChannelSendTool {
    channels: Arc<ChannelDirectory>,
    approver: Arc<dyn Approver>,
    policy: ApprovalPolicy,
}

impl ChannelSendTool {
    pub fn new(
        channels: Arc<ChannelDirectory>,
        approver: Arc<dyn Approver>,
        policy: ApprovalPolicy,
    ) -> Self {
        Self {
            channels,
            approver,
            policy,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendArgs {
    channel: String,
    to: String,
    text: String,
}

#[async_trait]
impl Tool for ChannelSendTool {
    fn name(&self) -> &str {
        "channel_send"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "channel_send".into(),
            description: "Send a message to a chat (the user asks for it to be delivered \
                          later or elsewhere). Only chats of people allowed to talk to you; \
                          the user approves each message."
                .into(),
            parameters: serde_json::json!({
                "type": "object",
                "properties": {
                    "channel": {"type": "string", "enum": self.channels.names()},
                    "to": {"type": "string", "description": "Chat id"},
                    "text": {"type": "string"}
                },
                "required": ["channel", "to", "text"],
                "additionalProperties": false
            }),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: SendArgs = parse_args("channel_send", args)?;
        let Some(channel) = self.channels.get(&args.channel) else {
            return Err(ToolError::NotFound(format!(
                "no channel '{}' is running; running: {}",
                args.channel,
                self.channels.names().join(", ")
            )));
        };
        if !channel.may_send_to(&args.to).await {
            return Err(ToolError::Refused(format!(
                "chat {} on {} is not a chat of anyone allowed to talk to the \
                 agent; it can only write to those",
                args.to, args.channel
            )));
        }
        if self.policy == ApprovalPolicy::Never {
            return Err(ToolError::Refused(
                "sending a message needs the user's approval, and approval is \
                 set to never; it was not sent"
                    .into(),
            ));
        }
        let request = ApprovalRequest {
            command: format!(
                "channel_send to {}:{}: {}",
                args.channel, args.to, args.text
            ),
            cwd: ctx.workspace.clone(),
            reason: "a message that leaves this machine".into(),
        };
        match self.approver.decide(&request).await {
            ApprovalDecision::Deny { reason } => {
                return Err(ToolError::Refused(format!("not sent: {reason}")))
            }
            ApprovalDecision::Approve | ApprovalDecision::ApproveForSession => {}
        }
        let chunks = channel
            .send_to(&args.to, &args.text)
            .await
            .map_err(|err| ToolError::Failed(err.to_string()))?;
        Ok(ToolOutput::ok(format!(
            "sent to {}:{} ({chunks} message{})",
            args.channel,
            args.to,
            if chunks == 1 { "" } else { "s" }
        )))
    }
}
