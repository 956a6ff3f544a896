//! What can go wrong talking to a model, which failures are worth retrying, and the
//! hints that tell a user what to check.

use std::time::Duration;

use serde_json::Value;

use crate::limits::OversizedPart;
use crate::ProviderKind;

/// A failed model call. Every variant reached over the network names the provider, the
/// model and the URL (`target`, e.g. `openai:gpt-4o at https://api.openai.com/v1/chat/completions`).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model id '{id}': {problem}; expected provider:model with provider one of openai, anthropic, local (e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5 or local:smollm2)")]
    InvalidModelId { id: String, problem: String },

    #[error("[providers.{provider}] settings: {problem}")]
    InvalidSettings { provider: String, problem: String },

    /// The server answered with an error status.
    #[error("{target}: {status_line}: {message} — {hint}")]
    Http {
        target: String,
        status: u16,
        /// The status with its reason phrase, e.g. `401 Unauthorized`.
        status_line: String,
        /// The server's own error message.
        message: String,
        hint: String,
        /// What the server asked us to wait (`retry-after` / `retry-after-ms`).
        retry_after: Option<Duration>,
    },

    #[error("{target}: could not reach the server: {cause} — check base_url and that the server is running and reachable")]
    Connect { target: String, cause: String },

    #[error("{target}: no data for {}s — the server stalled; raise timeout_secs under [providers.NAME] in config.toml if this model is slow to start answering", idle.as_secs_f64())]
    IdleTimeout { target: String, idle: Duration },

    /// A known reasoning model sent nothing for `idle` before its answer began. Never
    /// retried: such a model may think silently for minutes, and every attempt is
    /// billed again.
    #[error("{target}: no answer began within {}s; {model_id} is a reasoning model that can think silently for minutes, so Hearth did not retry (each attempt is billed) — raise the limit with idle_timeout_secs = 1200 under [models.\"{model_id}\"] in config.toml", idle.as_secs_f64())]
    ReasoningIdleTimeout {
        target: String,
        /// `provider:model`, as the config section names it.
        model_id: String,
        idle: Duration,
    },

    /// The body ended or broke before the stream's terminator (`[DONE]` / `message_stop`).
    #[error("{target}: the response ended early: {cause}")]
    StreamInterrupted { target: String, cause: String },

    /// An error object inside a successful response (e.g. an SSE `error` event).
    #[error("{target}: the server reported an error: {message}")]
    ServerReported {
        target: String,
        message: String,
        retryable: bool,
    },

    #[error("{target}: unreadable response: {cause} — check that base_url points at {expected}")]
    Malformed {
        target: String,
        cause: String,
        expected: &'static str,
    },

    /// The answer passed one of the [`ResponseLimits`](crate::ResponseLimits): reading
    /// stopped there and nothing of the answer is returned. Never retried: the same
    /// request would most likely run away again, and be paid for again.
    #[error("{target}: the response is too large: {part} passed the limit of {limit} {} ({} in ResponseLimits); Hearth stopped reading it and kept none of it — the model ran away or the server misbehaves: ask for a shorter answer, or for large output in several parts", part.unit(), part.limit_field())]
    ResponseTooLarge {
        target: String,
        part: OversizedPart,
        limit: usize,
    },

    /// Every allowed attempt failed in a retryable way. Only after at least one retry:
    /// with `max_retries = 0` the first error is returned as it is.
    #[error("gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted {
        attempts: u32,
        last: Box<ModelError>,
    },

    #[error("the model call was cancelled")]
    Cancelled,
}

impl ModelError {
    /// Whether trying the same request again may succeed: 429, 5xx, connection
    /// failures, stalls, streams cut short, and overload/rate-limit errors reported
    /// inside a stream.
    pub fn is_retryable(&self) -> bool {
        match self {
            ModelError::Http { status, .. } => status_is_retryable(*status),
            ModelError::Connect { .. }
            | ModelError::IdleTimeout { .. }
            | ModelError::StreamInterrupted { .. } => true,
            ModelError::ServerReported { retryable, .. } => *retryable,
            ModelError::InvalidModelId { .. }
            | ModelError::InvalidSettings { .. }
            | ModelError::Malformed { .. }
            | ModelError::ResponseTooLarge { .. }
            | ModelError::ReasoningIdleTimeout { .. }
            | ModelError::RetriesExhausted { .. }
            | ModelError::Cancelled => false,
        }
    }

    /// How long the server asked us to wait before trying again, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ModelError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// 429 and every 5xx (including Anthropic's 529 "overloaded") are worth another try.
pub(crate) fn status_is_retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// What a user should check after the server answered `status`.
pub(crate) fn hint_for_status(
    kind: ProviderKind,
    status: u16,
    model: &str,
    url: &str,
    has_api_key: bool,
) -> String {
    let provider = kind.name();
    let key_source = format!(
        "{} or [providers.{provider}] api_key in config.toml",
        kind.api_key_env()
    );
    match status {
        401 if !has_api_key => format!("no API key is configured: set {key_source}"),
        401 => format!("check {key_source}"),
        403 => format!("check that the key ({key_source}) may use model '{model}'"),
        404 => format!("check the model name '{model}' and base_url (requests go to {url})"),
        400 | 413 | 422 => {
            format!("the server rejected the request for model '{model}'; its message says why")
        }
        429 => "rate limited or out of quota: wait, or check your plan's limits".to_string(),
        500..=599 => {
            "the server failed or is overloaded: try again later or use another model".to_string()
        }
        _ => format!(
            "check that base_url points at {} (requests go to {url})",
            expected_server(kind)
        ),
    }
}

/// A phrase naming the kind of server `kind` expects, for error messages.
pub(crate) fn expected_server(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "an OpenAI Chat Completions server",
        ProviderKind::Anthropic => "an Anthropic Messages server",
    }
}

/// The human message inside an error body: OpenAI `{"error":{"message"}}`, Anthropic
/// `{"type":"error","error":{"message"}}`, Ollama `{"error":"..."}`, or the raw text.
pub(crate) fn server_message_from_body(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        if let Some(error) = value.get("error").filter(|error| !error.is_null()) {
            return error_object_message(error);
        }
        if let Some(message) = value.get("message").and_then(Value::as_str) {
            return message.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty response body)".to_string();
    }
    truncate_chars(text, 300)
}

/// The message of an `error` value that is either a string or an object with
/// `message` (else its `type` or `code`, else the object itself), followed by the
/// upstream cause OpenRouter keeps in `metadata`: `provider_name` and `raw`.
pub(crate) fn error_object_message(error: &Value) -> String {
    if let Some(text) = error.as_str() {
        return text.to_string();
    }
    let mut message = ["message", "type", "code"]
        .iter()
        .find_map(|field| error.get(*field).and_then(Value::as_str))
        .map(str::to_string)
        .unwrap_or_else(|| truncate_chars(&error.to_string(), 300));
    let metadata = &error["metadata"];
    if let Some(provider) = metadata["provider_name"].as_str() {
        message.push_str(&format!(" (upstream provider: {provider})"));
    }
    let raw = match &metadata["raw"] {
        Value::Null => None,
        Value::String(raw) => Some(raw.trim().to_string()),
        other => Some(other.to_string()),
    };
    if let Some(raw) = raw.filter(|raw| !raw.is_empty()) {
        message.push_str(&format!("; upstream said: {}", truncate_chars(&raw, 500)));
    }
    message
}

/// Whether an error object reported inside a response looks transient: overload, rate
/// limit, a 5xx code, a timeout.
pub(crate) fn error_object_is_retryable(error: &Value) -> bool {
    let numeric_code = error
        .get("code")
        .and_then(|code| code.as_u64().or_else(|| code.as_str()?.parse().ok()));
    if numeric_code.is_some_and(|code| code <= u16::MAX as u64 && status_is_retryable(code as u16))
    {
        return true;
    }
    let described = [error.get("type"), error.get("code"), error.get("message")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .chain(error.as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    const TRANSIENT_WORDS: &[&str] = &[
        "overload",
        "rate_limit",
        "rate limit",
        "server_error",
        "api_error",
        "internal",
        "unavailable",
        "timeout",
        "timed out",
        "capacity",
        "try again",
    ];
    TRANSIENT_WORDS.iter().any(|word| described.contains(word))
}

pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// An error and its causes on one line: reqwest's own message alone hides whether the
/// connection was refused, timed out or failed TLS.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retryable_statuses_are_429_and_5xx_only() {
        for status in [429, 500, 502, 503, 529, 599] {
            assert!(status_is_retryable(status), "{status}");
        }
        for status in [400, 401, 403, 404, 422, 200, 600] {
            assert!(!status_is_retryable(status), "{status}");
        }
    }

    #[test]
    fn http_error_display_names_target_status_message_and_fix() {
        let url = "https://api.openai.com/v1/chat/completions";
        let error = ModelError::Http {
            target: format!("openai:gpt-4o at {url}"),
            status: 401,
            status_line: "401 Unauthorized".into(),
            message: server_message_from_body(
                br#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
            ),
            hint: hint_for_status(ProviderKind::OpenAi, 401, "gpt-4o", url, true),
            retry_after: None,
        };
        assert_eq!(
            error.to_string(),
            "openai:gpt-4o at https://api.openai.com/v1/chat/completions: 401 Unauthorized: \
             Incorrect API key provided — check OPENAI_API_KEY or \
             [providers.openai] api_key in config.toml"
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn hints_say_what_to_check() {
        let url = "http://localhost:11434/v1/chat/completions";
        let not_found = hint_for_status(ProviderKind::OpenAi, 404, "llama3", url, false);
        assert!(
            not_found.contains("'llama3'") && not_found.contains(url),
            "{not_found}"
        );
        let no_key = hint_for_status(ProviderKind::Anthropic, 401, "claude", url, false);
        assert!(no_key.contains("ANTHROPIC_API_KEY"), "{no_key}");
        assert!(no_key.contains("no API key"), "{no_key}");
    }

    #[test]
    fn server_messages_come_out_of_every_known_error_shape() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"error":{"message":"bad model"}}"#, "bad model"),
            (
                br#"{"type":"error","error":{"type":"not_found_error","message":"model: x"}}"#,
                "model: x",
            ),
            (br#"{"error":"model 'x' not found"}"#, "model 'x' not found"),
            (br#"{"message":"plain"}"#, "plain"),
            (
                br#"{"error":{"type":"overloaded_error"}}"#,
                "overloaded_error",
            ),
            (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
            (b"  ", "(empty response body)"),
            (
                br#"{"error":{"code":400,"message":"Provider returned error","metadata":{"raw":"{\"error\":\"thought_signature missing\"}","provider_name":"Google AI Studio"}}}"#,
                r#"Provider returned error (upstream provider: Google AI Studio); upstream said: {"error":"thought_signature missing"}"#,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(server_message_from_body(body), *expected);
        }
    }

    #[test]
    fn error_objects_that_look_transient_are_retryable() {
        let retryable = [
            json!({"type":"overloaded_error","message":"Overloaded"}),
            json!({"type":"api_error","message":"Internal server error"}),
            json!({"message":"Rate limit exceeded","code":429}),
            json!({"message":"upstream failed","code":"502"}),
            json!("server is at capacity"),
        ];
        for error in retryable {
            assert!(error_object_is_retryable(&error), "{error}");
        }
        let permanent = [
            json!({"type":"invalid_request_error","message":"bad tool schema"}),
            json!({"message":"context length exceeded","code":400}),
        ];
        for error in permanent {
            assert!(!error_object_is_retryable(&error), "{error}");
        }
    }

    #[test]
    fn long_bodies_are_truncated_on_a_char_boundary() {
        let text = "é".repeat(400);
        let truncated = server_message_from_body(text.as_bytes());
        assert_eq!(truncated.chars().count(), 301);
    }
}
