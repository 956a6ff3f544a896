//! Model providers addressed as `provider:model`: OpenAI Chat Completions (OpenAI, vLLM,
//! llama.cpp's server, Ollama's `/v1`, OpenRouter, …) and Anthropic Messages, streaming or
//! not, with tool calls, retries, clear errors and token usage.
//!
//! Architecture invariant: this crate turns a [`ModelRequest`] into HTTP and the answer
//! back into a [`ModelResponse`] plus [`StreamEvent`]s. It knows nothing about sessions,
//! tools or the terminal: it never prints and never panics on what a server sends.
//!
//! Choices a caller should know about:
//! - Non-streaming calls (`request.stream == false`) still report their output through
//!   `on_event`, once, after the whole body has arrived: the text as one
//!   [`StreamEvent::TextDelta`] and each tool call as one `ToolCallStart` plus one
//!   `ToolCallArgs`. A consumer that renders events therefore behaves the same either way.
//! - Both wire formats send `request.max_tokens` (the config's `[limits]
//!   max_output_tokens`): Anthropic as `max_tokens`, OpenAI-compatible servers as
//!   `max_tokens`, or `max_completion_tokens` for OpenAI's reasoning model ids (`o1`,
//!   `o3`, `o4`, `gpt-5…`), which reject the older name. 0 sends none. An answer cut off
//!   there in the middle of a tool call stops with [`hearth_protocol::StopReason::MaxTokens`] and its
//!   calls are not meant to be run.
//! - Reasoning fields an OpenAI-compatible server asks to get back (DeepSeek's
//!   `reasoning_content`, OpenRouter's `reasoning_details`) come back in
//!   [`ModelResponse::provider_state`] and are replayed only to the same model.
//! - An empty system prompt is left out of both wire formats (Anthropic rejects empty
//!   text blocks).
//! - Answers are bounded by [`ResponseLimits`] (in [`ProviderSettings::limits`]): text,
//!   one SSE line or event, a whole body, tool calls per answer and arguments per call.
//!   Passing one fails the call at once with [`ModelError::ResponseTooLarge`], which is
//!   never retried. SSE comments and pings do not reset the idle timeout.
//! - A refusal (Anthropic `stop_reason: "refusal"`, an OpenAI `refusal` field), a content
//!   filter (`finish_reason: "content_filter"`) and a full context window (Anthropic
//!   `model_context_window_exceeded`) are their own stop reasons and win over tool calls.
//! - The idle timeout is per model ([`ProviderSettings::idle_timeout_for`]): known
//!   reasoning models ([`is_reasoning_model`]) wait at least [`REASONING_IDLE_TIMEOUT`].
//!   When such a model (or one with its own configured timeout) sends nothing before
//!   its answer's first byte, the call fails with [`ModelError::ReasoningIdleTimeout`]
//!   and is not retried: every attempt would be billed and most likely stall again.
//! - Anthropic requests carry two cache breakpoints: the system block and the last
//!   block of the latest message, so each step reads the earlier history from cache.
//! - [`ollama::probe`] recognises an Ollama server and reads the context window its
//!   requests get and the model's own sampling settings ([`Sampling`], which
//!   [`ProviderSettings::model_sampling`] sends: Ollama's `/v1` would sample at 1.0);
//!   [`ollama_cache::ProbeCache`] remembers the answer for a day.

mod anthropic;
#[cfg(test)]
mod decoder_fixtures;
mod error;
mod limits;
pub mod model_table;
pub mod ollama;
pub mod ollama_cache;
mod openai;
mod openai_reasoning;
pub mod profile;
mod retry;
mod sampling;
mod sse;
mod transport;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hearth_protocol::{ModelRequest, ModelResponse, StreamEvent};
use tokio_util::sync::CancellationToken;

pub use error::ModelError;
pub use limits::{
    OversizedPart, ResponseLimits, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_SSE_EVENT_BYTES, DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_TOOL_ARGUMENT_BYTES,
    DEFAULT_MAX_TOOL_CALLS,
};
pub use profile::{CachedInputCounting, ModelProfile, Prices, ProfileOverrides};
pub use sampling::Sampling;

/// Where OpenAI Chat Completions requests go unless configured otherwise.
pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Where Anthropic Messages requests go unless configured otherwise.
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// The idle timeout of a known reasoning model (see [`is_reasoning_model`]) unless the
/// provider's or the model's own setting is longer: Chat Completions sends nothing
/// while such a model thinks, and gaps of minutes are normal.
pub const REASONING_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Model name prefixes of models that think silently before answering. Matched after
/// a router's vendor prefix (`openai/o3-mini` on OpenRouter matches `o3`).
const REASONING_MODEL_PREFIXES: &[&str] = &[
    "o1",
    "o3",
    "o4",
    "gpt-5",
    "deepseek-reasoner",
    "deepseek-r1",
    "qwq",
];

/// Whether `model` (the provider's own name, without `provider:`) is a known
/// reasoning model: an id starting with o1, o3, o4, gpt-5, deepseek-reasoner,
/// deepseek-r1 or qwq, or naming "thinking" (`kimi-k2-thinking`, `…-thinking`).
pub fn is_reasoning_model(model: &str) -> bool {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    name.contains("thinking")
        || REASONING_MODEL_PREFIXES.iter().any(|prefix| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', ':', '.', '_']))
        })
}

/// The providers a model id may name. `openai` and `anthropic` are built here;
/// `local` (in-process GGUF) is built by the `hearth-local` crate.
pub const KNOWN_PROVIDERS: &[&str] = &["openai", "anthropic", "local"];

/// A model id split into its provider and the provider's own model name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    pub provider: String,
    pub model: String,
}

impl ModelRef {
    /// Parses `provider:model`. Only the first `:` separates, so `openai:llama3.1:8b`
    /// names the model `llama3.1:8b`.
    pub fn parse(id: &str) -> Result<ModelRef, ModelError> {
        let invalid = |problem: &str| ModelError::InvalidModelId {
            id: id.to_string(),
            problem: problem.to_string(),
        };
        let Some((provider, model)) = id.trim().split_once(':') else {
            return Err(invalid("no provider prefix"));
        };
        if !KNOWN_PROVIDERS.contains(&provider) {
            return Err(invalid(&format!("unknown provider '{provider}'")));
        }
        if model.is_empty() {
            return Err(invalid("the model name after ':' is empty"));
        }
        Ok(ModelRef {
            provider: provider.to_string(),
            model: model.to_string(),
        })
    }

    /// The wire format this id's provider speaks.
    pub fn kind(&self) -> Option<ProviderKind> {
        ProviderKind::from_name(&self.provider)
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.provider, self.model)
    }
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// OpenAI Chat Completions and every server that copies it.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl ProviderKind {
    /// The name used in model ids and config sections: `openai` or `anthropic`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }

    pub fn from_name(name: &str) -> Option<ProviderKind> {
        match name {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            _ => None,
        }
    }

    /// The environment variable conventionally holding this provider's API key.
    pub fn api_key_env(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "OPENAI_API_KEY",
            ProviderKind::Anthropic => "ANTHROPIC_API_KEY",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => DEFAULT_OPENAI_BASE_URL,
            ProviderKind::Anthropic => DEFAULT_ANTHROPIC_BASE_URL,
        }
    }
}

/// How to reach one provider and how patient to be with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// OpenAI: requests go to `{base_url}/chat/completions`. Anthropic: to
    /// `{base_url}/v1/messages` (a base ending in `/v1` is accepted too).
    pub base_url: String,
    /// OpenAI: optional (local servers need none), sent as `Authorization: Bearer`.
    /// Anthropic: sent as `x-api-key`.
    pub api_key: Option<String>,
    pub connect_timeout: Duration,
    /// The longest silence tolerated while waiting for response headers, between two
    /// chunks of a whole body, or between two SSE events that carry data: comment
    /// lines (`: keep-alive`) and pings are not progress and do not reset it.
    pub idle_timeout: Duration,
    /// Retries after the first attempt, so at most `max_retries + 1` attempts.
    pub max_retries: u32,
    /// First retry delay; doubles each retry, capped at 30 s, with jitter.
    pub retry_base_delay: Duration,
    /// Caps on one answer's size (text, SSE events, body, tool calls, arguments).
    pub limits: ResponseLimits,
    /// Per-model idle timeouts (`[models."openai:NAME"] idle_timeout_secs`), keyed by
    /// the provider's model name; they win over everything else.
    pub model_idle_timeouts: HashMap<String, Duration>,
    /// Per-model sampling (`[models."openai:NAME"] temperature`, `top_p`, or an Ollama
    /// model's own values), keyed by the provider's model name; a model without an
    /// entry is sent none.
    pub model_sampling: HashMap<String, Sampling>,
}

impl ProviderSettings {
    /// The defaults: the provider's public endpoint, no key, 10 s connect timeout,
    /// 120 s idle timeout, 4 retries starting at 500 ms, the default [`ResponseLimits`].
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            base_url: kind.default_base_url().to_string(),
            api_key: None,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_retries: 4,
            retry_base_delay: Duration::from_millis(500),
            limits: ResponseLimits::default(),
            model_idle_timeouts: HashMap::new(),
            model_sampling: HashMap::new(),
        }
    }

    /// The idle timeout for calls to `model`: its own configured value if any, else
    /// for a known reasoning model the longer of `idle_timeout` and
    /// [`REASONING_IDLE_TIMEOUT`], else `idle_timeout`.
    pub fn idle_timeout_for(&self, model: &str) -> Duration {
        if let Some(configured) = self.model_idle_timeouts.get(model) {
            return *configured;
        }
        if is_reasoning_model(model) {
            self.idle_timeout.max(REASONING_IDLE_TIMEOUT)
        } else {
            self.idle_timeout
        }
    }
}

/// A model backend. One provider serves every model of its endpoint; the model is
/// named by `request.model`.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `openai` or `anthropic`.
    fn name(&self) -> &str;

    /// Runs one model call, retrying retryable failures. When `request.stream` is set,
    /// `on_event` sees text and tool-call fragments as they arrive; before each retry it
    /// sees a [`StreamEvent::Retry`], after which partial output must be discarded.
    /// Non-streaming calls report their whole output through `on_event` once (see the
    /// crate docs). Cancelling `cancel` ends the call promptly with
    /// [`ModelError::Cancelled`], also mid-stream and during backoff.
    async fn complete(
        &self,
        request: &ModelRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError>;
}

/// Builds the provider `settings.kind` describes. Fails only on settings that can never
/// work (a malformed base URL, an API key that cannot go in an HTTP header).
pub fn build_provider(settings: ProviderSettings) -> Result<Arc<dyn Provider>, ModelError> {
    match settings.kind {
        ProviderKind::OpenAi => Ok(Arc::new(transport::HttpProvider::new(
            settings,
            openai::OpenAiWire,
        )?)),
        ProviderKind::Anthropic => Ok(Arc::new(transport::HttpProvider::new(
            settings,
            anthropic::AnthropicWire,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ref_splits_at_the_first_colon() {
        let parsed = ModelRef::parse("openai:llama3.1:8b").unwrap();
        assert_eq!(parsed.provider, "openai");
        assert_eq!(parsed.model, "llama3.1:8b");
        assert_eq!(parsed.to_string(), "openai:llama3.1:8b");
        assert_eq!(parsed.kind(), Some(ProviderKind::OpenAi));
        let parsed = ModelRef::parse("anthropic:claude-sonnet-4-5").unwrap();
        assert_eq!(parsed.kind(), Some(ProviderKind::Anthropic));
    }

    #[test]
    fn model_ref_errors_name_the_known_providers() {
        for bad in ["opnai:gpt-4o", "gpt-4o", "openai:", ""] {
            let message = ModelRef::parse(bad).unwrap_err().to_string();
            assert!(message.contains("openai, anthropic"), "{message}");
            assert!(message.contains(&format!("'{bad}'")), "{message}");
        }
        let message = ModelRef::parse("opnai:gpt-4o").unwrap_err().to_string();
        assert!(message.contains("unknown provider 'opnai'"), "{message}");
    }

    #[test]
    fn settings_defaults_match_the_documented_ones() {
        let settings = ProviderSettings::new(ProviderKind::Anthropic);
        assert_eq!(settings.base_url, DEFAULT_ANTHROPIC_BASE_URL);
        assert_eq!(settings.connect_timeout, Duration::from_secs(10));
        assert_eq!(settings.idle_timeout, Duration::from_secs(120));
        assert_eq!(settings.max_retries, 4);
        assert_eq!(settings.retry_base_delay, Duration::from_millis(500));
        assert_eq!(
            ProviderSettings::new(ProviderKind::OpenAi).base_url,
            DEFAULT_OPENAI_BASE_URL
        );
    }

    #[test]
    fn reasoning_models_get_a_longer_idle_timeout_unless_configured() {
        for reasoning in [
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "gpt-5",
            "gpt-5.1-codex",
            "deepseek-reasoner",
            "deepseek/deepseek-r1",
            "openai/o3",
            "qwq:32b",
            "kimi-k2-thinking",
        ] {
            assert!(is_reasoning_model(reasoning), "{reasoning}");
        }
        for plain in ["gpt-4o", "o1x", "llama3.1:8b", "claude-sonnet-4-5", "omni"] {
            assert!(!is_reasoning_model(plain), "{plain}");
        }
        let mut settings = ProviderSettings::new(ProviderKind::OpenAi);
        assert_eq!(
            settings.idle_timeout_for("gpt-4o"),
            Duration::from_secs(120)
        );
        assert_eq!(settings.idle_timeout_for("o3"), REASONING_IDLE_TIMEOUT);
        settings.idle_timeout = Duration::from_secs(900);
        assert_eq!(settings.idle_timeout_for("o3"), Duration::from_secs(900));
        settings
            .model_idle_timeouts
            .insert("o3".into(), Duration::from_secs(45));
        assert_eq!(settings.idle_timeout_for("o3"), Duration::from_secs(45));
    }

    #[test]
    fn build_provider_rejects_a_malformed_base_url() {
        let mut settings = ProviderSettings::new(ProviderKind::OpenAi);
        settings.base_url = "not a url".into();
        let message = build_provider(settings).err().unwrap().to_string();
        assert!(message.contains("not a url"), "{message}");
    }
}
