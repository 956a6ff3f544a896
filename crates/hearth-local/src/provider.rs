//! The `local:` provider: runs a request on an in-process GGUF model. Loading and
//! decoding run on a blocking thread; text streams back through a channel; the
//! cancellation token is checked between tokens.
//!
//! Tool-call policy for small models (which call tools well enough only under a
//! grammar, and then tend to call them forever):
//! - with tools offered, the output is constrained to a plain answer or one valid call
//!   of an offered tool (see `grammar`);
//! - when the user's message names offered tools (`use write_file to …`), the first step
//!   after it must call one of them: small models rarely choose a call on their own;
//! - after `max_tool_calls` calls since the last user message, only an answer is allowed;
//! - a call identical to one already made since the last user message is thrown away
//!   and the step is decoded again as an answer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use hearth_models::{ModelError, Provider};
use hearth_protocol::{
    Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolCall, ToolSpec, Usage,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, LoadedModel};
use crate::error::{to_model_error, LocalError};
use crate::generate::{self, Finish, GenerateParams, Generated, PrefixPlan};
use crate::grammar::{self, OutputShape};
use crate::prefix_state::{PrefixCache, MIN_PREFIX_TOKENS};
use crate::{catalog, prompt, template, toolcall};

/// Text stop sequences: turn markers a model may spell out as text.
const STOPS: &[&str] = &[
    "<|im_end|>",
    "<|im_start|>",
    "<end_of_turn>",
    "<start_of_turn>",
    "<|eot_id|>",
    "<|endoftext|>",
    "<tool_response>",
];

/// Knobs of the local provider.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Decoding threads (default: [`crate::default_threads`]; the caller passes the
    /// user's choice, e.g. `HEARTH_LOCAL_THREADS`).
    pub threads: i32,
    /// Tool calls allowed since the last user message before only an answer is allowed.
    pub max_tool_calls: usize,
    /// Tokens one tool call may take before it counts as failed.
    pub max_call_tokens: usize,
    /// Keep the context between steps and turns and decode only the tokens after the
    /// part of the prompt it already holds (off only to compare, in tests).
    pub reuse_kv_cache: bool,
    /// Where the KV state after the system prompt and tools is saved for the next
    /// process (the binary uses `$HEARTH_HOME/cache/kv-states`, out of every sandbox's reach); `None` saves nothing.
    pub prefix_cache: Option<PrefixCache>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            threads: engine::default_threads(),
            max_tool_calls: 4,
            max_call_tokens: 1024,
            reuse_kv_cache: true,
            prefix_cache: None,
        }
    }
}

/// One local model, addressed as `local:<id>` or `local:/path/to.gguf`.
pub struct LocalProvider {
    model_id: String,
    path: PathBuf,
    options: LocalOptions,
}

impl LocalProvider {
    /// Resolves `name` (an id in the model cache `models_dir`, or a path) and checks
    /// that the file is a GGUF. The model itself is loaded at the first request.
    pub fn new(
        name: &str,
        models_dir: Option<&Path>,
        options: LocalOptions,
    ) -> Result<Self, LocalError> {
        let path = catalog::resolve(name, models_dir)?;
        Self::from_path(name, &path, options)
    }

    /// A provider for the file at `path`, reported as `local:<model_id>`.
    pub fn from_path(
        model_id: &str,
        path: &Path,
        options: LocalOptions,
    ) -> Result<Self, LocalError> {
        catalog::check_gguf(path)?;
        Ok(Self {
            model_id: model_id.to_string(),
            path: path.to_path_buf(),
            options,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the model (once per process) off the async runtime's threads.
    pub async fn load(&self) -> Result<&'static LoadedModel, LocalError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || engine::load(&path))
            .await
            .map_err(|e| LocalError::inference(&self.model_id, "loading the model", e))?
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &str {
        "local"
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
        let fail = |e| to_model_error(&self.model_id, e);
        let loaded = tokio::select! {
            loaded = self.load() => loaded.map_err(fail)?,
            _ = cancel.cancelled() => return Err(ModelError::Cancelled),
        };
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let job = Job {
            loaded,
            request: request.clone(),
            model_id: self.model_id.clone(),
            options: self.options.clone(),
            cancel: cancel.clone(),
        };
        let mut task = tokio::task::spawn_blocking(move || job.run(sender));
        let result = loop {
            tokio::select! {
                Some(text) = receiver.recv() => {
                    if request.stream {
                        on_event(StreamEvent::TextDelta(text));
                    }
                }
                joined = &mut task => break joined,
                _ = cancel.cancelled() => return Err(ModelError::Cancelled),
            }
        };
        while let Ok(text) = receiver.try_recv() {
            if request.stream {
                on_event(StreamEvent::TextDelta(text));
            }
        }
        let outcome = result
            .map_err(|e| {
                fail(LocalError::inference(
                    &self.model_id,
                    "the decoding thread",
                    e,
                ))
            })?
            .map_err(fail)?;
        respond(outcome, request.stream, on_event)
    }
}

/// What one step produced.
struct Outcome {
    generated: Generated,
    calls: Vec<toolcall::ParsedCall>,
    /// The output began a tool call that does not parse (cut off by its budget).
    broken_call: bool,
}

/// A request travelling to the blocking thread.
struct Job {
    loaded: &'static LoadedModel,
    request: ModelRequest,
    model_id: String,
    options: LocalOptions,
    cancel: CancellationToken,
}

impl Job {
    fn run(self, sender: mpsc::UnboundedSender<String>) -> Result<Outcome, LocalError> {
        let tools = &self.request.tools;
        let earlier = calls_since_last_user(&self.request.messages);
        let named = named_tools(&self.request.messages, tools);
        let (shape, offered) = if earlier.len() >= self.options.max_tool_calls {
            (OutputShape::AnswerOnly, tools.clone())
        } else if earlier.is_empty() && !named.is_empty() {
            (OutputShape::CallOnly, named)
        } else {
            (OutputShape::AnswerOrCall, tools.clone())
        };
        let outcome = self.step(shape, &offered, &sender)?;
        if outcome.broken_call {
            // The model began a call it could not finish within its budget: what it
            // wrote is neither a call nor an answer, so it answers instead.
            tracing::debug!(model = %self.model_id, text = %outcome.generated.text, "unfinished tool call replaced by an answer");
            return self.step(OutputShape::AnswerOnly, tools, &sender);
        }
        let repeated = outcome.calls.iter().any(|call| {
            earlier
                .iter()
                .any(|(name, args)| *name == call.name && same_json(args, &call.arguments))
        });
        if repeated && !tools.is_empty() {
            tracing::debug!(model = %self.model_id, "repeated tool call replaced by an answer");
            return self.step(OutputShape::AnswerOnly, tools, &sender);
        }
        Ok(outcome)
    }

    fn step(
        &self,
        shape: OutputShape,
        tools: &[ToolSpec],
        sender: &mpsc::UnboundedSender<String>,
    ) -> Result<Outcome, LocalError> {
        let messages = template::messages(&self.request);
        let max_tokens = self.request.max_tokens.max(1) as usize;
        let prompt = prompt::fit(self.loaded, &self.model_id, &messages, max_tokens)?;
        if prompt.dropped > 0 {
            tracing::warn!(model = %self.model_id, dropped = prompt.dropped, "older messages dropped to fit the context");
        }
        let grammar = grammar::build(tools, shape);
        let stops: Vec<String> = STOPS.iter().map(|s| s.to_string()).collect();
        let params = GenerateParams {
            model_id: &self.model_id,
            max_tokens: prompt.max_new_tokens,
            grammar: grammar.as_deref(),
            stops: &stops,
            threads: self.options.threads,
            max_call_tokens: Some(self.options.max_call_tokens),
            reuse_kv_cache: self.options.reuse_kv_cache,
            prefix_state: self.options.prefix_cache.as_ref().and_then(|cache| {
                let len = stable_prefix_len(self.loaded, &messages, &prompt.tokens)?;
                Some(PrefixPlan { cache, len })
            }),
        };
        // Text is streamed once it is clearly an answer; a call is held back whole.
        let may_call = grammar.is_some() && shape != OutputShape::AnswerOnly;
        let mut seen = String::new();
        let mut streaming = false;
        let mut on_text = |text: &str| {
            if streaming {
                let _ = sender.send(text.to_string());
                return;
            }
            seen.push_str(text);
            if seen.trim_start().is_empty() || (may_call && toolcall::looks_like_call(&seen)) {
                return;
            }
            streaming = true;
            let _ = sender.send(std::mem::take(&mut seen).trim_start().to_string());
        };
        let cancelled = || self.cancel.is_cancelled();
        let generated = generate::generate(
            self.loaded,
            &prompt.tokens,
            &params,
            &cancelled,
            &mut on_text,
        )?;
        let began_call = may_call && toolcall::looks_like_call(&generated.text);
        let calls = if began_call {
            toolcall::parse(&generated.text, tools)
        } else {
            Vec::new()
        };
        let broken_call = began_call && calls.is_empty();
        tracing::debug!(
            model = %self.model_id,
            prompt_tokens = generated.prompt_tokens,
            cached_prompt_tokens = generated.cached_prompt_tokens,
            prompt_ms = generated.prompt_ms,
            output_tokens = generated.output_tokens,
            generation_ms = generated.generation_ms,
            "local generation"
        );
        if !began_call && !streaming && !seen.trim().is_empty() {
            // Held back as a possible call but it was not one: it is the answer.
            let _ = sender.send(seen.trim().to_string());
        }
        Ok(Outcome {
            generated,
            calls,
            broken_call,
        })
    }
}

/// How many of `prompt`'s tokens are the system message (the system prompt and the
/// tool instructions), which stays the same from request to request: the tokens it
/// shares with the system message rendered alone. `None` without a system message or
/// when it is too short to be worth saving.
fn stable_prefix_len(
    loaded: &LoadedModel,
    messages: &[template::ChatMessage],
    prompt: &[llama_cpp_2::token::LlamaToken],
) -> Option<usize> {
    let system = messages.first().filter(|m| m.role == "system")?;
    let text = prompt::render(loaded, std::slice::from_ref(system)).ok()?;
    let alone = generate::tokenize(loaded, &text);
    let shared = alone.iter().zip(prompt).take_while(|(a, b)| a == b).count();
    (shared >= MIN_PREFIX_TOKENS).then_some(shared)
}

/// The offered tools the last user message names (`write_file`), in offer order: small
/// models rarely decide to call a tool on their own, so naming one makes the next step
/// a call of one of them.
fn named_tools(messages: &[Message], tools: &[ToolSpec]) -> Vec<ToolSpec> {
    let Some(Message::User { text, .. }) = messages.last() else {
        return Vec::new();
    };
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .collect();
    tools
        .iter()
        .filter(|t| words.contains(&t.name.as_str()))
        .cloned()
        .collect()
}

/// (name, arguments) of the calls the assistant made since the last user message.
fn calls_since_last_user(messages: &[Message]) -> Vec<(String, String)> {
    let start = messages
        .iter()
        .rposition(|m| matches!(m, Message::User { .. }))
        .map_or(0, |i| i + 1);
    messages[start..]
        .iter()
        .filter_map(|m| match m {
            Message::Assistant { tool_calls, .. } => Some(tool_calls),
            _ => None,
        })
        .flatten()
        .map(|c| (c.name.clone(), c.arguments.clone()))
        .collect()
}

fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A unique id for a call made by a local model.
fn call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("call_{nanos:x}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn respond(
    outcome: Outcome,
    stream: bool,
    on_event: &mut (dyn FnMut(StreamEvent) + Send),
) -> Result<ModelResponse, ModelError> {
    let Outcome {
        generated, calls, ..
    } = outcome;
    let usage = Usage {
        input_tokens: generated.prompt_tokens as u64,
        output_tokens: generated.output_tokens as u64,
        // Prompt tokens the kept KV cache already held: a subset of input_tokens.
        cached_tokens: generated.cached_prompt_tokens as u64,
        ..Usage::default()
    };
    if generated.finish == Finish::Cancelled {
        return Err(ModelError::Cancelled);
    }
    if !calls.is_empty() {
        let tool_calls: Vec<ToolCall> = calls
            .into_iter()
            .map(|c| ToolCall {
                id: call_id(),
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        for (index, call) in tool_calls.iter().enumerate() {
            on_event(StreamEvent::ToolCallStart {
                index,
                id: call.id.clone(),
                name: call.name.clone(),
            });
            on_event(StreamEvent::ToolCallArgs {
                index,
                fragment: call.arguments.clone(),
            });
        }
        return Ok(ModelResponse {
            text: String::new(),
            tool_calls,
            usage,
            stop_reason: StopReason::ToolUse,
            provider_state: None,
        });
    }
    let text = generated.text.trim().to_string();
    if !stream && !text.is_empty() {
        on_event(StreamEvent::TextDelta(text.clone()));
    }
    Ok(ModelResponse {
        text,
        tool_calls: Vec::new(),
        usage,
        stop_reason: match generated.finish {
            // A loop cut short is an answer cut at a limit, like the token budget.
            Finish::MaxTokens | Finish::Repetition => StopReason::MaxTokens,
            _ => StopReason::EndTurn,
        },
        provider_state: None,
    })
}
