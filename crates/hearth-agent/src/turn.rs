//! One turn of the agent: append the user message, then model step → tool calls → results
//! until a final answer, the step limit, a cancel, a detected loop or a provider error.

use std::sync::Arc;

use hearth_models::{ModelError, ModelRef, Provider};
use hearth_protocol::{
    AgentEvent, Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolResult, Usage,
};
use hearth_secrets::Redactor;
use hearth_store::{Store, StoreError};
use hearth_tools::{ToolContext, ToolRegistry};
use tokio_util::sync::CancellationToken;

use crate::dispatch;
use crate::loop_guard::{LoopGuard, REPEAT_LIMIT};
use crate::memory_hook::{with_recall, MemoryHook};

/// The result of a call cut off by the output token limit (never run).
pub const TRUNCATED_CALL_RESULT: &str = "not run: the answer reached the output token limit ([limits] max_output_tokens) before this call's arguments were complete";

/// Limits and switches for the loop.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// Model calls per turn before the turn is stopped (`--max-steps`).
    pub max_steps: u32,
    /// Output token cap sent to every provider (`[limits] max_output_tokens`).
    pub max_output_tokens: u32,
    pub stream: bool,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            max_steps: 50,
            max_output_tokens: 8192,
            stream: true,
        }
    }
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub text: String,
    pub stop_reason: StopReason,
    pub steps: u32,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything one turn needs: a provider for a model, the tools, the store and the
/// (stable) system prompt.
pub struct Agent {
    pub provider: Arc<dyn Provider>,
    pub model: ModelRef,
    pub tools: ToolRegistry,
    pub tool_context: ToolContext,
    pub store: Arc<Store>,
    pub system_prompt: String,
    pub settings: AgentSettings,
    /// Replaces secret values in tool output before it is stored or sent.
    pub redactor: Redactor,
    /// Long-term memory: recalled before the turn, fed what was said.
    pub memory: Option<Arc<dyn MemoryHook>>,
}

impl Agent {
    /// Replaces stored secrets' values (and their encoded forms) in the model's text
    /// and tool-call arguments with `[secret:NAME]`, before anything is stored or run.
    fn redact_response(&self, response: &mut ModelResponse) {
        response.text = self.redactor.redact(&response.text);
        for call in &mut response.tool_calls {
            call.arguments = self.redactor.redact(&call.arguments);
        }
    }

    /// Runs one user turn in `session_id`, emitting events as it goes. The session's
    /// history is valid afterwards whatever happens (every call answered).
    pub async fn run_turn(
        &self,
        session_id: &str,
        user_text: &str,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        self.store.repair(session_id)?;
        let mut history = self.store.messages(session_id)?;
        let recalled = self
            .memory
            .as_ref()
            .and_then(|memory| memory.recall(user_text));
        let user = Message::user(with_recall(user_text, recalled));
        self.store.append(session_id, &user)?;
        self.capture(session_id, &Message::user(user_text));
        history.push(user);

        let mut guard = LoopGuard::default();
        let mut usage = Usage::default();
        let mut last_text = String::new();
        for step in 1..=self.settings.max_steps {
            let mut response = match self.model_step(&history, emit, cancel).await {
                Ok(response) => response,
                Err(ModelError::Cancelled) => {
                    return Ok(self.finish(
                        session_id,
                        last_text,
                        StopReason::Cancelled,
                        step,
                        usage,
                        emit,
                    ));
                }
                Err(err) => return Err(err.into()),
            };
            // A secret the model got hold of (decoded from a tool's output, say) is
            // neither stored nor acted on: calls run with the redacted arguments.
            self.redact_response(&mut response);
            // A refused, filtered or overflowing answer is kept for the record but never
            // replayed (a replayed refusal keeps being refused); its calls are not run.
            let stopped_by_provider = response.stop_reason.is_provider_stop();
            let assistant = if stopped_by_provider {
                Message::stopped_assistant(response.text.clone(), response.stop_reason)
            } else {
                Message::assistant_with_state(
                    response.text.clone(),
                    response.tool_calls.clone(),
                    response.provider_state.clone(),
                )
            };
            self.store.append_with_usage(
                session_id,
                &assistant,
                &self.model.to_string(),
                &response.usage,
            )?;
            usage.add(response.usage);
            emit(AgentEvent::Usage {
                step,
                usage: response.usage,
            });
            if stopped_by_provider {
                return Ok(self.finish(
                    session_id,
                    response.text,
                    response.stop_reason,
                    step,
                    usage,
                    emit,
                ));
            }
            if response.stop_reason == StopReason::MaxTokens && !response.tool_calls.is_empty() {
                return self.end_with_truncated_calls(session_id, &response, step, usage, emit);
            }
            if !response.text.is_empty() {
                self.capture(session_id, &assistant);
            }
            history.push(assistant);
            if !response.text.is_empty() {
                last_text = response.text.clone();
            }
            if response.tool_calls.is_empty() {
                let reason = match response.stop_reason {
                    StopReason::MaxTokens => StopReason::MaxTokens,
                    _ => StopReason::EndTurn,
                };
                return Ok(self.finish(session_id, last_text, reason, step, usage, emit));
            }

            for call in &response.tool_calls {
                emit(AgentEvent::ToolCall { call: call.clone() });
            }
            let mut results: Vec<ToolResult> = Vec::new();
            let mut store_error = None;
            let mut looping = false;
            dispatch::run_calls(
                &self.tools,
                &self.tool_context,
                &response.tool_calls,
                |call, mut result| {
                    result.content = self.redactor.redact(&result.content);
                    if let Err(err) = self
                        .store
                        .append(session_id, &Message::Tool(result.clone()))
                    {
                        store_error.get_or_insert(err);
                    }
                    looping |= guard.record(call, &result);
                    emit(AgentEvent::ToolResult {
                        result: result.clone(),
                    });
                    results.push(result);
                },
            )
            .await;
            if let Some(err) = store_error {
                return Err(err.into());
            }
            history.extend(results.into_iter().map(Message::Tool));
            if cancel.is_cancelled() || self.tool_context.cancel.is_cancelled() {
                return Ok(self.finish(
                    session_id,
                    last_text,
                    StopReason::Cancelled,
                    step,
                    usage,
                    emit,
                ));
            }
            if looping {
                let text = format!(
                    "Stopped: the same tool call failed {REPEAT_LIMIT} times in a row. {last_text}"
                );
                return Ok(self.finish(
                    session_id,
                    text.trim_end().to_string(),
                    StopReason::LoopDetected,
                    step,
                    usage,
                    emit,
                ));
            }
        }
        Ok(self.finish(
            session_id,
            last_text,
            StopReason::StepLimit,
            self.settings.max_steps,
            usage,
            emit,
        ))
    }

    /// The answer reached the output token limit in the middle of a tool call: its
    /// calls are cut off, so none runs (each gets a result saying so, keeping the
    /// history valid) and the turn ends naming the setting to raise, instead of the
    /// model being told its JSON is invalid until the loop guard stops it.
    fn end_with_truncated_calls(
        &self,
        session_id: &str,
        response: &ModelResponse,
        step: u32,
        usage: Usage,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<TurnOutcome, AgentError> {
        for call in &response.tool_calls {
            emit(AgentEvent::ToolCall { call: call.clone() });
            let result = ToolResult::error(call, TRUNCATED_CALL_RESULT);
            self.store
                .append(session_id, &Message::Tool(result.clone()))?;
            emit(AgentEvent::ToolResult { result });
        }
        let text = format!(
            "Stopped: the model's answer reached the output limit of {} tokens in the middle \
             of a tool call, so the call was not run. Raise [limits] max_output_tokens in \
             config.toml, or ask for smaller steps (a large file written in parts). {}",
            self.settings.max_output_tokens, response.text
        );
        Ok(self.finish(
            session_id,
            text.trim_end().to_string(),
            StopReason::MaxTokens,
            step,
            usage,
            emit,
        ))
    }

    fn capture(&self, session_id: &str, message: &Message) {
        if let Some(memory) = &self.memory {
            memory.capture(session_id, message);
        }
    }

    /// One model call. Text deltas and retries are forwarded as events.
    async fn model_step(
        &self,
        history: &[Message],
        emit: &mut (dyn FnMut(AgentEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
        let request = ModelRequest {
            model: self.model.model.clone(),
            system: self.system_prompt.clone(),
            messages: history
                .iter()
                .filter(|message| message.is_replayed())
                .cloned()
                .collect(),
            tools: self.tools.specs(),
            max_tokens: self.settings.max_output_tokens,
            stream: self.settings.stream,
        };
        let mut forward = |event: StreamEvent| match event {
            StreamEvent::TextDelta(text) => emit(AgentEvent::TextDelta { text }),
            StreamEvent::Retry {
                attempt,
                delay_ms,
                reason,
            } => emit(AgentEvent::Retry {
                attempt,
                delay_ms,
                reason,
            }),
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallArgs { .. } => {}
        };
        self.provider.complete(&request, &mut forward, cancel).await
    }

    fn finish(
        &self,
        session_id: &str,
        text: String,
        stop_reason: StopReason,
        steps: u32,
        usage: Usage,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> TurnOutcome {
        emit(AgentEvent::Final {
            session_id: session_id.to_string(),
            text: text.clone(),
            stop_reason,
            steps,
            usage,
        });
        TurnOutcome {
            text,
            stop_reason,
            steps,
            usage,
        }
    }
}
