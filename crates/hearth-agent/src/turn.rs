//! One turn of the agent: append the user message, then model step → tool calls → results
//! until a final answer, the step limit, a cancel, a detected loop or a provider error.

use std::sync::Arc;

use hearth_models::{ModelError, ModelProfile, ModelRef, Provider};
use hearth_protocol::{
    AgentEvent, Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolCall,
    ToolResult, TurnEnd, TurnFailure, Usage,
};
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, StoreError};
use hearth_tools::{ToolContext, ToolRegistry};
use tokio::sync::mpsc::unbounded_channel;
use tokio_util::sync::CancellationToken;

use crate::budget::{Budget, BudgetExceeded};
use crate::call_screen::InjectionGuard;
use crate::compaction::{CompactionError, CompactionSettings, TokenEstimate, Trigger};
use crate::dispatch;
use crate::history::History;
use crate::loop_guard::{LoopGuard, REPEAT_LIMIT};
use crate::memory_hook::{with_recall, MemoryHook};
use crate::now_line::{with_now, NowLine};

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
    /// The model's window, output cap and prices (costs are stored with each call).
    pub profile: ModelProfile,
    /// Spending limits checked before each model call.
    pub budget: Budget,
    /// When and how the older history is summarised (`[context]`).
    pub compaction: CompactionSettings,
    /// `[security] injection`: which calls are refused or asked once untrusted
    /// content is in the context (see `injection_policy`).
    pub injection: InjectionGuard,
    /// The `[now: …]` line appended to each user message (see `now_line`); `None`:
    /// none.
    pub now_line: Option<NowLine>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            max_steps: 50,
            max_output_tokens: 8192,
            stream: true,
            profile: ModelProfile::default(),
            budget: Budget::default(),
            compaction: CompactionSettings::default(),
            injection: InjectionGuard::default(),
            now_line: None,
        }
    }
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub text: String,
    /// Why the turn ended; [`TurnEnd::succeeded`] says whether it is a success.
    pub end: TurnEnd,
    pub steps: u32,
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The next model call would pass a `[budget]` limit, so it was not made.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The history had to be compacted before the next call, and that failed.
    #[error(transparent)]
    Compaction(#[from] CompactionError),
}

impl AgentError {
    /// The error as the `error` event carries it: its message and what kind of
    /// failure it is.
    pub fn to_event(&self) -> AgentEvent {
        let failure = match self {
            AgentError::Model(_) => TurnFailure::Model,
            AgentError::Store(_) => TurnFailure::Store,
            AgentError::Budget(_) => TurnFailure::Budget,
            AgentError::Compaction(_) => TurnFailure::Compaction,
        };
        AgentEvent::Error {
            message: self.to_string(),
            failure: Some(failure),
        }
    }
}

/// Everything turns need: a provider for a model, the tools, the store and the
/// (stable) system prompt. Built once and used for any number of turns (each with its
/// own cancellation token).
pub struct Agent {
    pub provider: Arc<dyn Provider>,
    pub model: ModelRef,
    pub tools: ToolRegistry,
    /// What tools run with; its `cancel` is replaced by each turn's token.
    pub tool_context: ToolContext,
    /// The state database, written through its own thread (never on a runtime worker).
    pub store: AsyncStore,
    pub system_prompt: String,
    pub settings: AgentSettings,
    /// Replaces secret values in tool output before it is stored or sent.
    pub redactor: Redactor,
    /// Long-term memory: recalled before the turn, fed what was said. Its calls run
    /// on blocking threads (recall embeds the query; capture is a durable write).
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

    /// Runs one user turn in `session_id`, emitting events as it goes (the first is
    /// `SessionStarted`, once the user's message is durable). `cancel` stops this turn
    /// and its tools. The session's history is valid afterwards whatever happens
    /// (every call answered). Nothing here blocks the runtime: the store, memory and
    /// sandbox do their blocking work on threads of their own.
    pub async fn run_turn(
        &self,
        session_id: &str,
        user_text: &str,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        self.store.repair(session_id).await?;
        let mut history = History::from(self.store.resume_context(session_id).await?);
        let recalled = self.recall(user_text).await;
        let with_time = with_now(user_text, self.settings.now_line.as_ref());
        let user = Message::user_with_additions(user_text, with_recall(&with_time, recalled));
        let seq = self.store.append(session_id, &user).await?;
        emit(AgentEvent::SessionStarted {
            session_id: session_id.to_string(),
            model: self.model.to_string(),
        });
        self.capture_user_text(session_id, user_text).await;
        history.push(seq, user);

        let tool_context = ToolContext {
            cancel: cancel.clone(),
            ..self.tool_context.clone()
        };
        let mut guard = LoopGuard::default();
        let mut usage = Usage::default();
        let mut last_text = String::new();
        let mut estimate = TokenEstimate::default();
        for step in 1..=self.settings.max_steps {
            let mut request = self.request(&history);
            if self
                .compaction_threshold()
                .is_some_and(|threshold| estimate.tokens(&request) > threshold)
            {
                let compacted = self
                    .compact_history(
                        session_id,
                        &mut history,
                        Trigger::Threshold,
                        estimate,
                        cancel,
                    )
                    .await;
                match compacted {
                    Ok(_) => request = self.request(&history),
                    Err(AgentError::Model(ModelError::Cancelled)) => {
                        return Ok(self.finish(
                            session_id,
                            last_text,
                            TurnEnd::Cancelled,
                            step,
                            usage,
                            emit,
                        ));
                    }
                    Err(error) => return Err(error),
                }
            }
            if let Some(exceeded) = self.over_budget(session_id, &request).await? {
                return Err(exceeded.into());
            }
            let mut response = match self.model_step(&request, emit, cancel).await {
                Ok(response) => response,
                Err(ModelError::Cancelled) => {
                    return Ok(self.finish(
                        session_id,
                        last_text,
                        TurnEnd::Cancelled,
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
            estimate.correct(
                TokenEstimate::raw(&request),
                self.reported_input(&response.usage),
            );
            let seq = self
                .store
                .append_with_usage(
                    session_id,
                    &assistant,
                    &self.model.to_string(),
                    &response.usage,
                    self.settings.profile.cost_usd(&response.usage),
                )
                .await?;
            usage.add(response.usage);
            emit(AgentEvent::Usage {
                step,
                usage: response.usage,
            });
            if stopped_by_provider {
                let end = TurnEnd::ProviderStopped {
                    stop_reason: response.stop_reason,
                };
                return Ok(self.finish(session_id, response.text, end, step, usage, emit));
            }
            if response.stop_reason == StopReason::MaxTokens && !response.tool_calls.is_empty() {
                return self
                    .end_with_truncated_calls(session_id, &response, step, usage, emit)
                    .await;
            }
            // The taint of what the model saw: its text may repeat what an attacker
            // planted (captured as untrusted), and it decides what this step's tools
            // are told (`tainted_step`).
            let seen = self.context_taint(user_text, &history);
            if !response.text.is_empty() {
                if seen.is_tainted() {
                    self.capture_untrusted(session_id, assistant.clone()).await;
                } else {
                    self.capture(session_id, assistant.clone()).await;
                }
            }
            history.push(seq, assistant);
            if !response.text.is_empty() {
                last_text = response.text.clone();
            }
            if response.tool_calls.is_empty() {
                let end = match response.stop_reason {
                    StopReason::MaxTokens => TurnEnd::Truncated,
                    _ => TurnEnd::Completed,
                };
                return Ok(self.finish(session_id, last_text, end, step, usage, emit));
            }

            for call in &response.tool_calls {
                emit(AgentEvent::ToolCall { call: call.clone() });
            }
            let refused = self
                .screen_calls(user_text, &history, &response.tool_calls)
                .await;
            let step_context = self.step_context(&tool_context, &seen);
            let (results, looping) = self
                .run_tool_calls(
                    session_id,
                    &step_context,
                    (&response.tool_calls, &refused),
                    &mut guard,
                    emit,
                )
                .await?;
            for (seq, result) in results {
                history.push(seq, Message::Tool(result));
            }
            if cancel.is_cancelled() {
                return Ok(self.finish(
                    session_id,
                    last_text,
                    TurnEnd::Cancelled,
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
                    TurnEnd::LoopDetected,
                    step,
                    usage,
                    emit,
                ));
            }
        }
        Ok(self.finish(
            session_id,
            last_text,
            TurnEnd::MaxSteps,
            self.settings.max_steps,
            usage,
            emit,
        ))
    }

    /// Runs one answer's tool calls (see [`dispatch`]), writing each result ahead as
    /// it arrives, in call order; the next batch starts once the last one's results are
    /// durable. A call in `refused` (by id) gets that text as its result instead of
    /// running. Returns the results and whether the loop guard saw a repeating failure.
    async fn run_tool_calls(
        &self,
        session_id: &str,
        tool_context: &ToolContext,
        (calls, refused): (&[ToolCall], &std::collections::HashMap<String, String>),
        guard: &mut LoopGuard,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> Result<(Vec<(i64, ToolResult)>, bool), StoreError> {
        let mut results = Vec::new();
        let mut store_error = None;
        let mut looping = false;
        for batch in dispatch::concurrent_batches(&self.tools, calls) {
            let (finished, mut handed_over) = unbounded_channel();
            let running = dispatch::run_batch(&self.tools, tool_context, batch, refused, finished);
            let writing = async {
                while let Some((call, mut result)) = handed_over.recv().await {
                    result.content = self.redactor.redact(&result.content);
                    let stored = Message::Tool(result.clone());
                    let seq = match self.store.append(session_id, &stored).await {
                        Ok(seq) => seq,
                        Err(err) => {
                            store_error.get_or_insert(err);
                            0
                        }
                    };
                    looping |= guard.record(call, &result);
                    emit(AgentEvent::ToolResult {
                        result: result.clone(),
                    });
                    results.push((seq, result));
                }
            };
            tokio::join!(running, writing);
        }
        match store_error {
            Some(err) => Err(err),
            None => Ok((results, looping)),
        }
    }

    /// What long-term memory recalls for `user_text`, worked out on a blocking thread
    /// (recall embeds the query). A recall that panics is logged and skipped: memory
    /// never fails the turn.
    async fn recall(&self, user_text: &str) -> Option<String> {
        let memory = Arc::clone(self.memory.as_ref()?);
        let user_text = user_text.to_string();
        match tokio::task::spawn_blocking(move || memory.recall(&user_text)).await {
            Ok(recalled) => recalled,
            Err(error) => {
                tracing::warn!(%error, "memory recall failed; the turn goes on without it");
                None
            }
        }
    }

    /// Feeds `message` to long-term memory on a blocking thread (a durable write) and
    /// waits for it, so captures stay in the order they were said.
    async fn capture(&self, session_id: &str, message: Message) {
        self.capture_with(session_id, message, false).await;
    }

    /// [`Agent::capture`] for what may carry an attacker's words
    /// ([`MemoryHook::capture_untrusted`]).
    async fn capture_untrusted(&self, session_id: &str, message: Message) {
        self.capture_with(session_id, message, true).await;
    }

    async fn capture_with(&self, session_id: &str, message: Message, untrusted: bool) {
        let Some(memory) = self.memory.as_ref().map(Arc::clone) else {
            return;
        };
        let session_id = session_id.to_string();
        let captured = tokio::task::spawn_blocking(move || {
            if untrusted {
                memory.capture_untrusted(&session_id, &message);
            } else {
                memory.capture(&session_id, &message);
            }
        });
        if let Err(error) = captured.await {
            tracing::warn!(%error, "memory capture failed; the turn goes on without it");
        }
    }

    /// The turn's message to memory: the person's words as theirs, and, when it carries
    /// outside text ([`hearth_tools::wrap_outside_text`]: a heartbeat probe's output),
    /// the whole message as untrusted.
    async fn capture_user_text(&self, session_id: &str, user_text: &str) {
        if !hearth_tools::carries_outside_text(user_text) {
            return self.capture(session_id, Message::user(user_text)).await;
        }
        let own_words = hearth_tools::without_outside_text(user_text);
        if !own_words.trim().is_empty() {
            self.capture(session_id, Message::user(own_words)).await;
        }
        self.capture_untrusted(session_id, Message::user(user_text))
            .await;
    }

    /// The answer reached the output token limit in the middle of a tool call: its
    /// calls are cut off, so none runs (each gets a result saying so, keeping the
    /// history valid) and the turn ends naming the setting to raise, instead of the
    /// model being told its JSON is invalid until the loop guard stops it.
    async fn end_with_truncated_calls(
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
                .append(session_id, &Message::Tool(result.clone()))
                .await?;
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
            TurnEnd::Truncated,
            step,
            usage,
            emit,
        ))
    }

    /// The request for the next model call: the stable prefix and the replayed history
    /// (the latest compaction summary first, if any).
    pub(crate) fn request(&self, history: &History) -> ModelRequest {
        ModelRequest {
            model: self.model.model.clone(),
            system: self.system_prompt.clone(),
            messages: history.replayed(),
            tools: self.tools.specs(),
            max_tokens: self
                .settings
                .profile
                .max_output_tokens
                .unwrap_or(self.settings.max_output_tokens),
            stream: self.settings.stream,
        }
    }

    /// Whether `request` would pass a budget (see [`crate::budget`]); its input is
    /// estimated from the characters of its system prompt, tools and messages.
    async fn over_budget(
        &self,
        session_id: &str,
        request: &ModelRequest,
    ) -> Result<Option<BudgetExceeded>, StoreError> {
        let budget = &self.settings.budget;
        if !budget.is_set() {
            return Ok(None);
        }
        let chars = request.system.len()
            + serde_json::to_string(&request.tools).map_or(0, |json| json.len())
            + serde_json::to_string(&request.messages).map_or(0, |json| json.len());
        let tokens = hearth_models::profile::estimate_tokens(chars);
        budget
            .check(&self.store, session_id, &self.settings.profile, tokens)
            .await
    }

    /// The input tokens a call's usage reports, cached ones included.
    fn reported_input(&self, usage: &Usage) -> u64 {
        match self.settings.profile.cached_input {
            hearth_models::CachedInputCounting::PartOfInput => usage.input_tokens,
            hearth_models::CachedInputCounting::Separate => {
                usage.input_tokens + usage.cached_tokens + usage.cache_creation_tokens
            }
        }
    }

    /// One model call. Text deltas and retries are forwarded as events.
    async fn model_step(
        &self,
        request: &ModelRequest,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
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
        self.provider.complete(request, &mut forward, cancel).await
    }

    fn finish(
        &self,
        session_id: &str,
        text: String,
        end: TurnEnd,
        steps: u32,
        usage: Usage,
        emit: &mut (dyn FnMut(AgentEvent) + Send),
    ) -> TurnOutcome {
        emit(AgentEvent::Final {
            session_id: session_id.to_string(),
            text: text.clone(),
            end,
            steps,
            usage,
        });
        TurnOutcome {
            text,
            end,
            steps,
            usage,
        }
    }
}
