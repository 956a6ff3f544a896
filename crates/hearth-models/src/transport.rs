//! The HTTP side every wire format shares: one POST per attempt, idle timeouts,
//! cancellation, reading SSE or a whole body, turning failures into [`ModelError`]s, and
//! the retry loop around it all.

use std::future::Future;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use hearth_protocol::{ModelRequest, ModelResponse, StreamEvent};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{
    error_chain, expected_server, hint_for_status, server_message_from_body, ModelError,
};
use crate::limits::{check_response, OversizedPart, ResponseLimits};
use crate::retry::{backoff_delay, jitter_fraction, retry_after_from_headers, MAX_RETRY_AFTER};
use crate::sse::{SseEvent, SseParser};
use crate::{is_reasoning_model, Provider, ProviderKind, ProviderSettings};

/// The most of an error body kept for the error message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A failure found while decoding a successful response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WireError {
    /// Not the JSON shape the wire format promises.
    Malformed(String),
    /// The server put an error object in the response.
    Reported { message: String, retryable: bool },
    /// The answer passed one of the [`ResponseLimits`].
    TooLarge { part: OversizedPart, limit: usize },
}

/// Turns one response's SSE events into stream events and, at the end, a response.
pub(crate) trait StreamDecoder: Send {
    fn on_event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(StreamEvent),
    ) -> Result<(), WireError>;
    /// Whether the stream's terminator has arrived.
    fn is_done(&self) -> bool;
    /// Whether the answer is complete although the body ended without the terminator.
    fn is_complete_without_terminator(&self) -> bool {
        false
    }
    /// Why a stream that closed cleanly before its terminator is not an answer.
    fn unterminated_cause(&self, terminator: &str) -> String {
        format!("the stream stopped before its terminator ({terminator})")
    }
    /// Whether `event` only keeps the connection alive (a ping): it does not count as
    /// progress against the idle timeout.
    fn is_keep_alive(&self, _event: &SseEvent) -> bool {
        false
    }
    fn finish(self, emit: &mut dyn FnMut(StreamEvent)) -> ModelResponse;
}

/// What distinguishes one wire format from another; the HTTP work is shared.
pub(crate) trait WireFormat: Send + Sync + 'static {
    type Decoder: StreamDecoder;
    fn kind(&self) -> ProviderKind;
    /// Where requests go for `base_url`.
    fn endpoint_url(&self, base_url: &str) -> String;
    /// Authentication and version headers; `Err` says what is wrong with the key.
    fn headers(&self, api_key: Option<&str>) -> Result<HeaderMap, String>;
    fn request_body(&self, request: &ModelRequest) -> Value;
    /// A decoder that fails as soon as the answer passes `limits`.
    fn new_decoder(&self, limits: ResponseLimits) -> Self::Decoder;
    /// Decodes a whole non-streaming response body.
    fn parse_response(&self, body: &[u8]) -> Result<ModelResponse, WireError>;
    /// How the stream's terminator looks on the wire, for error messages.
    fn terminator(&self) -> &'static str;
}

/// A [`Provider`] speaking wire format `W` over reqwest.
pub(crate) struct HttpProvider<W> {
    wire: W,
    settings: ProviderSettings,
    client: reqwest::Client,
    url: String,
    headers: HeaderMap,
}

/// One model call as every attempt of it needs it.
struct CallPlan<'a> {
    target: String,
    model: &'a str,
    body: Value,
    stream: bool,
    /// The longest silence tolerated for this model ([`ProviderSettings::idle_timeout_for`]).
    idle: Duration,
    /// A known reasoning model: silence before the first byte is not retried.
    reasoning: bool,
}

impl<W: WireFormat> HttpProvider<W> {
    pub(crate) fn new(settings: ProviderSettings, wire: W) -> Result<Self, ModelError> {
        let kind = wire.kind();
        let invalid = |problem: String| ModelError::InvalidSettings {
            provider: kind.name().to_string(),
            problem,
        };
        let url = wire.endpoint_url(&settings.base_url);
        let parsed = reqwest::Url::parse(&url).map_err(|error| {
            invalid(format!(
                "base_url '{}' is not a valid URL ({error}); it looks like {}",
                settings.base_url,
                kind.default_base_url()
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "base_url '{}' must start with http:// or https://",
                settings.base_url
            )));
        }
        let headers = wire.headers(settings.api_key.as_deref()).map_err(invalid)?;
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| invalid(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self {
            wire,
            settings,
            client,
            url,
            headers,
        })
    }

    /// One attempt: send, check the status, read the answer.
    async fn attempt(
        &self,
        plan: &CallPlan<'_>,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
        let mut builder = self
            .client
            .post(&self.url)
            .headers(self.headers.clone())
            .json(&plan.body);
        if plan.stream {
            builder = builder.header(ACCEPT, "text/event-stream");
        }
        let response = match self
            .wait(builder.send(), plan, cancel)
            .await
            .map_err(|error| self.before_first_byte(plan, error))?
        {
            Ok(response) => response,
            Err(error) => {
                return Err(ModelError::Connect {
                    target: plan.target.clone(),
                    cause: error_chain(&error),
                })
            }
        };
        if !response.status().is_success() {
            return Err(self.http_error(plan, response, cancel).await);
        }
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.trim_start().starts_with("application/json"));
        // Some servers answer a streaming request with one JSON body (often an error).
        if plan.stream && !is_json {
            return self.read_stream(plan, response, on_event, cancel).await;
        }
        let body = self.read_capped_body(plan, response, cancel).await?;
        let answer = self
            .wire
            .parse_response(&body)
            .and_then(|answer| check_response(&answer, self.settings.limits).map(|()| answer))
            .map_err(|error| self.wire_error(plan, error))?;
        emit_whole_response(&answer, on_event);
        Ok(answer)
    }

    async fn read_stream(
        &self,
        plan: &CallPlan<'_>,
        mut response: reqwest::Response,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
        let limits = self.settings.limits;
        let mut parser = SseParser::new(limits.max_sse_event_bytes);
        let mut decoder = self.wire.new_decoder(limits);
        // Only events that carry data are progress: a server sending nothing but
        // comments or pings still hits the idle timeout.
        let mut deadline = Instant::now() + plan.idle;
        let mut answer_began = false;
        loop {
            let next_chunk = self.wait_until(response.chunk(), deadline, plan, cancel);
            let next_chunk = next_chunk.await.map_err(|error| {
                if answer_began {
                    error
                } else {
                    self.before_first_byte(plan, error)
                }
            });
            let chunk = match next_chunk? {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(error) => {
                    return Err(ModelError::StreamInterrupted {
                        target: plan.target.clone(),
                        cause: format!("the connection broke mid-stream: {}", error_chain(&error)),
                    })
                }
            };
            let events = parser
                .push(&chunk)
                .map_err(|error| self.wire_error(plan, error))?;
            for event in events {
                if !decoder.is_keep_alive(&event) {
                    answer_began = true;
                    deadline = Instant::now() + plan.idle;
                }
                decoder
                    .on_event(&event, &mut *on_event)
                    .map_err(|error| self.wire_error(plan, error))?;
                if decoder.is_done() {
                    return Ok(decoder.finish(&mut *on_event));
                }
            }
        }
        let events = parser
            .finish()
            .map_err(|error| self.wire_error(plan, error))?;
        for event in events {
            decoder
                .on_event(&event, &mut *on_event)
                .map_err(|error| self.wire_error(plan, error))?;
        }
        if decoder.is_done() || decoder.is_complete_without_terminator() {
            return Ok(decoder.finish(&mut *on_event));
        }
        Err(ModelError::StreamInterrupted {
            target: plan.target.clone(),
            cause: decoder.unterminated_cause(self.wire.terminator()),
        })
    }

    /// Reads a whole successful body; one longer than `max_body_bytes` is an error as
    /// soon as it passes the limit.
    async fn read_capped_body(
        &self,
        plan: &CallPlan<'_>,
        mut response: reqwest::Response,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ModelError> {
        let limit = self.settings.limits.max_body_bytes;
        let too_large = || {
            self.wire_error(
                plan,
                WireError::TooLarge {
                    part: OversizedPart::Body,
                    limit,
                },
            )
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            let next_chunk = self.wait(response.chunk(), plan, cancel).await;
            let next_chunk = next_chunk.map_err(|error| {
                if body.is_empty() {
                    self.before_first_byte(plan, error)
                } else {
                    error
                }
            });
            match next_chunk? {
                Ok(Some(chunk)) if body.len().saturating_add(chunk.len()) > limit => {
                    return Err(too_large())
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => return Ok(body),
                Err(error) => {
                    return Err(ModelError::StreamInterrupted {
                        target: plan.target.clone(),
                        cause: format!("the connection broke: {}", error_chain(&error)),
                    })
                }
            }
        }
    }

    /// Reads a whole body, or its first `limit` bytes.
    async fn read_body(
        &self,
        plan: &CallPlan<'_>,
        mut response: reqwest::Response,
        limit: usize,
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>, ModelError> {
        let mut body = Vec::new();
        while body.len() < limit {
            match self.wait(response.chunk(), plan, cancel).await? {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => {
                    return Err(ModelError::StreamInterrupted {
                        target: plan.target.clone(),
                        cause: format!("the connection broke: {}", error_chain(&error)),
                    })
                }
            }
        }
        body.truncate(limit);
        Ok(body)
    }

    async fn http_error(
        &self,
        plan: &CallPlan<'_>,
        response: reqwest::Response,
        cancel: &CancellationToken,
    ) -> ModelError {
        let status = response.status();
        let retry_after = retry_after_from_headers(response.headers(), SystemTime::now());
        let body = match self
            .read_body(plan, response, MAX_ERROR_BODY_BYTES, cancel)
            .await
        {
            Ok(body) => body,
            Err(ModelError::Cancelled) => return ModelError::Cancelled,
            Err(_) => Vec::new(),
        };
        let status_line = match status.canonical_reason() {
            Some(reason) => format!("{} {reason}", status.as_u16()),
            None => status.as_u16().to_string(),
        };
        ModelError::Http {
            target: plan.target.clone(),
            status: status.as_u16(),
            status_line,
            message: server_message_from_body(&body),
            hint: hint_for_status(
                self.wire.kind(),
                status.as_u16(),
                plan.model,
                &self.url,
                self.settings.api_key.is_some(),
            ),
            retry_after,
        }
    }

    fn wire_error(&self, plan: &CallPlan<'_>, error: WireError) -> ModelError {
        match error {
            WireError::Malformed(cause) => ModelError::Malformed {
                target: plan.target.clone(),
                cause,
                expected: expected_server(self.wire.kind()),
            },
            WireError::Reported { message, retryable } => ModelError::ServerReported {
                target: plan.target.clone(),
                message,
                retryable,
            },
            WireError::TooLarge { part, limit } => ModelError::ResponseTooLarge {
                target: plan.target.clone(),
                part,
                limit,
            },
        }
    }

    /// An idle timeout before the answer's first byte from a reasoning model becomes
    /// [`ModelError::ReasoningIdleTimeout`], which is not retried; other errors pass.
    fn before_first_byte(&self, plan: &CallPlan<'_>, error: ModelError) -> ModelError {
        match error {
            ModelError::IdleTimeout { target, idle } if plan.reasoning => {
                ModelError::ReasoningIdleTimeout {
                    target,
                    model_id: format!("{}:{}", self.wire.kind().name(), plan.model),
                    idle,
                }
            }
            other => other,
        }
    }

    /// Awaits `future` unless the call is cancelled or the server stays silent for
    /// longer than the model's idle timeout.
    async fn wait<F: Future>(
        &self,
        future: F,
        plan: &CallPlan<'_>,
        cancel: &CancellationToken,
    ) -> Result<F::Output, ModelError> {
        let deadline = Instant::now() + plan.idle;
        self.wait_until(future, deadline, plan, cancel).await
    }

    /// Awaits `future` unless the call is cancelled or `deadline` (the last progress
    /// plus `idle_timeout`) passes first.
    async fn wait_until<F: Future>(
        &self,
        future: F,
        deadline: Instant,
        plan: &CallPlan<'_>,
        cancel: &CancellationToken,
    ) -> Result<F::Output, ModelError> {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(ModelError::Cancelled),
            outcome = tokio::time::timeout_at(deadline, future) => {
                outcome.map_err(|_| ModelError::IdleTimeout {
                    target: plan.target.clone(),
                    idle: plan.idle,
                })
            }
        }
    }

    fn retry_delay(&self, error: &ModelError, retry_number: u32) -> Duration {
        match error.retry_after() {
            Some(asked) => asked.min(MAX_RETRY_AFTER),
            None => backoff_delay(
                self.settings.retry_base_delay,
                retry_number,
                jitter_fraction(),
            ),
        }
    }
}

#[async_trait]
impl<W: WireFormat> Provider for HttpProvider<W> {
    fn name(&self) -> &str {
        self.wire.kind().name()
    }

    async fn complete(
        &self,
        request: &ModelRequest,
        on_event: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, ModelError> {
        let mut body = self.wire.request_body(request);
        if let Some(sampling) = self.settings.model_sampling.get(&request.model) {
            sampling.apply(&mut body);
        }
        let plan = CallPlan {
            target: format!("{}:{} at {}", self.name(), request.model, self.url),
            model: &request.model,
            body,
            stream: request.stream,
            idle: self.settings.idle_timeout_for(&request.model),
            reasoning: is_reasoning_model(&request.model)
                || self
                    .settings
                    .model_idle_timeouts
                    .contains_key(&request.model),
        };
        let mut retries_done = 0;
        loop {
            let error = match self.attempt(&plan, on_event, cancel).await {
                Ok(mut answer) => {
                    // Decoders know the wire format; the state belongs to this model.
                    if let Some(state) = &mut answer.provider_state {
                        state.model.clone_from(&request.model);
                    }
                    return Ok(answer);
                }
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(error);
            }
            if retries_done >= self.settings.max_retries {
                if retries_done == 0 {
                    return Err(error);
                }
                return Err(ModelError::RetriesExhausted {
                    attempts: retries_done + 1,
                    last: Box::new(error),
                });
            }
            retries_done += 1;
            let delay = self.retry_delay(&error, retries_done);
            tracing::warn!(%error, retry = retries_done, delay_ms = delay.as_millis() as u64, "retrying model call");
            on_event(StreamEvent::Retry {
                attempt: retries_done,
                delay_ms: delay.as_millis() as u64,
                reason: error.to_string(),
            });
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(ModelError::Cancelled),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// A non-streaming answer reported as events, so that consumers rendering events see
/// the same thing in both modes: the text as one delta, each call as start + arguments.
pub(crate) fn emit_whole_response(answer: &ModelResponse, on_event: &mut dyn FnMut(StreamEvent)) {
    if !answer.text.is_empty() {
        on_event(StreamEvent::TextDelta(answer.text.clone()));
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        on_event(StreamEvent::ToolCallStart {
            index,
            id: call.id.clone(),
            name: call.name.clone(),
        });
        if !call.arguments.is_empty() {
            on_event(StreamEvent::ToolCallArgs {
                index,
                fragment: call.arguments.clone(),
            });
        }
    }
}

/// Parses one SSE data payload as JSON. A few servers put several JSON objects on
/// consecutive `data:` lines without the blank line between them; those are split.
pub(crate) fn json_payloads(data: &str) -> Result<Vec<Value>, WireError> {
    match serde_json::from_str(data) {
        Ok(value) => Ok(vec![value]),
        Err(error) if !data.contains('\n') => Err(malformed_payload(data, &error)),
        Err(error) => data
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).map_err(|_| malformed_payload(data, &error)))
            .collect(),
    }
}

fn malformed_payload(data: &str, error: &serde_json::Error) -> WireError {
    WireError::Malformed(format!(
        "stream data is not JSON ({error}): {}",
        crate::error::truncate_chars(data, 200)
    ))
}
