//! The OpenAI-compatible `/v1` endpoint (`GET /v1/models`, `POST /v1/chat/completions`),
//! merged into the gateway's router behind its auth. A completion is one Hearth turn:
//! the client sees the answer text (tool activity stays inside the agent), streamed as
//! `chat.completion.chunk` events ending with `data: [DONE]`, or whole as a
//! `chat.completion` with `usage`.
//!
//! Which session a request continues, first match wins:
//! 1. the `X-Hearth-Session: ID` header (an unknown id is a 404);
//! 2. the `user` field: one session per distinct value, opened on its first request
//!    (later requests send only their last user message to it);
//! 3. the history: the user and assistant messages before the last user message equal
//!    (text for text, trimmed) a history this gateway answered earlier, so a client
//!    that resends the whole conversation, as OpenAI clients do, continues one session.
//!
//! Otherwise a new session opens; if the request carried earlier messages nobody here
//! knows (a gateway restart, an edited history), they are quoted into the new session's
//! first message so the model still sees them. Only the last user message is sent as the
//! turn; `system`/`developer` messages are ignored (Hearth has its own system prompt).
//! Every answer names its session in the `X-Hearth-Session` response header.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::stream::{self, Stream};
use hearth_protocol::{AgentEvent, StopReason, TurnEnd, Usage};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{AppState, GatewayError, NewSession, TurnEvent, TurnHandle, BODY_LIMIT};

/// The model name of the default agent.
pub const DEFAULT_AGENT: &str = "hearth";
/// The request header (and response header) naming the session to continue.
pub const SESSION_HEADER: &str = "x-hearth-session";
/// How many answered histories and `user` values are remembered (oldest forgotten first).
const INDEX_CAPACITY: usize = 10_000;
/// A non-streaming answer's head is held until this long before the request timeout.
const HEAD_MARGIN: Duration = Duration::from_secs(2);
/// Past that, a space goes out this often until the JSON does.
const WHOLE_KEEPALIVE: Duration = Duration::from_secs(15);

/// The `/v1` routes, each router with its own history index.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/chat/completions", post(chat_completions))
        .layer(Extension(Arc::new(HistoryIndex::new(INDEX_CAPACITY))))
}

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
struct OpenAiError {
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    param: Option<&'static str>,
    message: String,
}

impl OpenAiError {
    fn bad_request(param: Option<&'static str>, message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: "invalid_request",
            param,
            message,
        }
    }
}

impl From<GatewayError> for OpenAiError {
    fn from(error: GatewayError) -> Self {
        let status = error.status();
        let kind = if status.is_server_error() {
            "server_error"
        } else {
            "invalid_request_error"
        };
        Self {
            status,
            kind,
            code: error.code(),
            param: None,
            message: error.to_string(),
        }
    }
}

impl OpenAiError {
    fn body(&self) -> Value {
        json!({"error": {
            "message": self.message, "type": self.kind, "param": self.param, "code": self.code,
        }})
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

async fn list_models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [{"id": DEFAULT_AGENT, "object": "model", "created": 0, "owned_by": "hearth"}],
    }))
}

/// The fields of a Chat Completions request Hearth reads; the rest are accepted and
/// ignored (the agent's model and settings come from its config).
#[derive(Debug)]
struct CompletionRequest {
    model: String,
    messages: Vec<RequestMessage>,
    stream: bool,
    stream_options: Option<StreamOptions>,
    user: Option<String>,
}

impl CompletionRequest {
    /// Parses `body` field by field, so that a 400 names the field that is wrong.
    fn parse(body: &[u8]) -> Result<Self, OpenAiError> {
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            OpenAiError::bad_request(None, format!("the request body is not JSON: {error}"))
        })?;
        let Value::Object(object) = value else {
            return Err(OpenAiError::bad_request(
                None,
                "the request body must be a JSON object".into(),
            ));
        };
        Ok(Self {
            model: required(&object, "model")?,
            messages: required(&object, "messages")?,
            stream: optional(&object, "stream")?.unwrap_or(false),
            stream_options: optional(&object, "stream_options")?,
            user: optional(&object, "user")?,
        })
    }
}

fn optional<T: DeserializeOwned>(
    object: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<Option<T>, OpenAiError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value).map(Some).map_err(|error| {
            OpenAiError::bad_request(Some(name), format!("`{name}` is invalid: {error}"))
        }),
    }
}

fn required<T: DeserializeOwned>(
    object: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<T, OpenAiError> {
    optional(object, name)?
        .ok_or_else(|| OpenAiError::bad_request(Some(name), format!("`{name}` is required")))
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct RequestMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or an array of parts of which the text ones count.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(default)]
    text: Option<String>,
}

impl RequestMessage {
    fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(text)) => text.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .filter_map(|part| part.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// One remembered conversation line: role and trimmed text.
type Line = (String, String);

async fn chat_completions(
    State(state): State<AppState>,
    Extension(index): Extension<Arc<HistoryIndex>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, OpenAiError> {
    let body = body.map_err(|rejection| OpenAiError {
        status: rejection.status(),
        kind: "invalid_request_error",
        code: "invalid_body",
        param: None,
        message: format!(
            "cannot read the request body (at most {BODY_LIMIT} bytes): {}",
            rejection.body_text()
        ),
    })?;
    let request = CompletionRequest::parse(&body)?;
    if request.model != DEFAULT_AGENT {
        return Err(OpenAiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: "model_not_found",
            param: Some("model"),
            message: format!(
                "the model `{}` does not exist here: this gateway serves the agent `{DEFAULT_AGENT}` (GET /v1/models lists it)",
                request.model
            ),
        });
    }
    let lines: Vec<Line> = request
        .messages
        .iter()
        .filter(|m| m.role == "user" || m.role == "assistant")
        .map(|m| (m.role.clone(), m.text().trim().to_string()))
        .collect();
    let Some((last, earlier)) = lines.split_last().filter(|(last, _)| last.0 == "user") else {
        return Err(OpenAiError::bad_request(
            Some("messages"),
            "`messages` must end with a message from the user (role `user`)".into(),
        ));
    };
    let (session_id, text) =
        pick_session(&state, &index, &headers, &request, earlier, &last.1).await?;
    let mut turn = state.sessions.start_turn(&session_id, &text).await?;
    // The full id (the header may have named a unique prefix).
    let session_id = turn.session_id.clone();
    let answered = Answered {
        index,
        session_id: session_id.clone(),
        history: lines,
    };
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let mut response = if request.stream {
        let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
        // The response head acknowledges the message, so it leaves only once the
        // message is durable: after the turn's first event (`session_started` follows
        // the write, or an error tells why the turn could not start).
        let first = turn.events.recv().await;
        Sse::new(stream_chunks(turn, first, answered, id, include_usage))
            .keep_alive(KeepAlive::default())
            .into_response()
    } else {
        whole_completion(&state, turn, answered, id).await?
    };
    if let Ok(value) = HeaderValue::from_str(&session_id) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    Ok(response)
}

/// The session this request continues and the text its turn sends (see the module
/// docs for the rule).
async fn pick_session(
    state: &AppState,
    index: &HistoryIndex,
    headers: &HeaderMap,
    request: &CompletionRequest,
    earlier: &[Line],
    last: &str,
) -> Result<(String, String), OpenAiError> {
    if let Some(value) = headers.get(SESSION_HEADER) {
        let id = value.to_str().map_err(|_| {
            OpenAiError::bad_request(None, "the X-Hearth-Session header is not text".into())
        })?;
        return Ok((id.to_string(), last.to_string()));
    }
    if let Some(user) = request.user.as_deref().filter(|u| !u.is_empty()) {
        let key = index.key(&[("user-field".into(), user.to_string())]);
        if let Some(id) = index.get(key) {
            return Ok((id, last.to_string()));
        }
        let id = open_session(state, last).await?;
        index.insert(key, id.clone());
        return Ok((id, with_earlier_messages(earlier, last)));
    }
    if !earlier.is_empty() {
        if let Some(id) = index.take(index.key(earlier)) {
            return Ok((id, last.to_string()));
        }
    }
    let id = open_session(state, last).await?;
    Ok((id, with_earlier_messages(earlier, last)))
}

async fn open_session(state: &AppState, first_text: &str) -> Result<String, OpenAiError> {
    let title: String = first_text.chars().take(60).collect();
    let session = state
        .sessions
        .create_session(NewSession {
            title: Some(title),
            ..NewSession::default()
        })
        .await?;
    Ok(session.id)
}

/// The turn's text for a new session: earlier messages nobody here knows are quoted
/// before the new one.
fn with_earlier_messages(earlier: &[Line], last: &str) -> String {
    if earlier.is_empty() {
        return last.to_string();
    }
    let mut text = String::from("The conversation so far (from the client):\n");
    for (role, line) in earlier {
        text.push_str(&format!("[{role}] {line}\n"));
    }
    text.push_str("\nThe new message:\n");
    text.push_str(last);
    text
}

/// What to remember once the turn answered: the history it extends.
struct Answered {
    index: Arc<HistoryIndex>,
    session_id: String,
    history: Vec<Line>,
}

impl Answered {
    fn remember(mut self, answer: &str) {
        self.history
            .push(("assistant".into(), answer.trim().to_string()));
        let key = self.index.key(&self.history);
        self.index.insert(key, self.session_id);
    }
}

/// `finish_reason` for how the turn ended.
fn finish_reason(end: TurnEnd) -> &'static str {
    match end {
        TurnEnd::Truncated => "length",
        TurnEnd::ProviderStopped {
            stop_reason: StopReason::ContentFilter,
        } => "content_filter",
        _ => "stop",
    }
}

fn usage_json(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A turn whose whole answer is awaited.
struct PendingCompletion {
    turn: TurnHandle,
    answered: Option<Answered>,
    id: String,
}

impl PendingCompletion {
    /// Waits for the turn's final event: the `chat.completion` body. Safe to drop and
    /// call again (no event that matters is lost in between).
    async fn result(&mut self) -> Result<Value, OpenAiError> {
        while let Some(event) = self.turn.events.recv().await {
            match event {
                TurnEvent::Agent(AgentEvent::Final {
                    text, end, usage, ..
                }) => {
                    let body = json!({
                        "id": self.id, "object": "chat.completion", "created": unix_now(),
                        "model": DEFAULT_AGENT,
                        "choices": [{
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish_reason(end),
                        }],
                        "usage": usage_json(&usage),
                    });
                    if let Some(answered) = self.answered.take() {
                        answered.remember(&text);
                    }
                    return Ok(body);
                }
                TurnEvent::Agent(AgentEvent::Error { message, .. }) => {
                    return Err(turn_failed(message));
                }
                _ => {}
            }
        }
        Err(turn_failed("the turn ended without an answer".into()))
    }
}

/// A whole `chat.completion`. A turn that ends within the gateway's request timeout
/// (less a margin) is answered with its own status; a longer one gets its 200 head then,
/// and its JSON when it ends, preceded by a space every [`WHOLE_KEEPALIVE`] (leading
/// whitespace is valid JSON) so that no timeout, the gateway's or a proxy's, cuts it off.
async fn whole_completion(
    state: &AppState,
    turn: TurnHandle,
    answered: Answered,
    id: String,
) -> Result<Response, OpenAiError> {
    let mut pending = PendingCompletion {
        turn,
        answered: Some(answered),
        id,
    };
    let wait = state.settings.request_timeout.saturating_sub(HEAD_MARGIN);
    if let Ok(result) = tokio::time::timeout(wait, pending.result()).await {
        return result.map(|body| Json(body).into_response());
    }
    let body = stream::unfold(Some(pending), |pending| async move {
        let mut pending = pending?;
        let outcome = tokio::select! {
            result = pending.result() => Some(result),
            () = tokio::time::sleep(WHOLE_KEEPALIVE) => None,
        };
        let chunk = match outcome {
            Some(result) => {
                let value = result.unwrap_or_else(|error| error.body());
                return Some((Ok::<_, Infallible>(Bytes::from(value.to_string())), None));
            }
            None => Bytes::from_static(b" "),
        };
        Some((Ok(chunk), Some(pending)))
    });
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

fn turn_failed(message: String) -> OpenAiError {
    OpenAiError {
        status: StatusCode::BAD_GATEWAY,
        kind: "server_error",
        code: "turn_failed",
        param: None,
        message: format!("the agent's turn failed: {message}"),
    }
}

/// Where the stream is: the turn's events still coming, then the closing events.
struct ChunkStream {
    turn: TurnHandle,
    answered: Option<Answered>,
    id: String,
    created: u64,
    include_usage: bool,
    /// The text sent so far (what the client will resend as the assistant message).
    sent: String,
    /// A step's text was followed by tool calls: separate the next text from it.
    after_tools: bool,
    pending: VecDeque<Event>,
    done: bool,
}

impl ChunkStream {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Event {
        let body = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": DEFAULT_AGENT,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        });
        Event::default().data(body.to_string())
    }

    /// The events one agent event becomes (none for tool activity).
    fn on_event(&mut self, event: TurnEvent) {
        match event {
            TurnEvent::Agent(AgentEvent::TextDelta { text }) if !text.is_empty() => {
                let text = if std::mem::take(&mut self.after_tools) && !self.sent.is_empty() {
                    format!("\n\n{text}")
                } else {
                    text
                };
                self.sent.push_str(&text);
                let event = self.chunk(json!({"content": text}), None);
                self.pending.push_back(event);
            }
            TurnEvent::Agent(AgentEvent::ToolCall { .. }) => self.after_tools = true,
            TurnEvent::Agent(AgentEvent::Final { end, usage, .. }) => {
                let event = self.chunk(json!({}), Some(finish_reason(end)));
                self.pending.push_back(event);
                if self.include_usage {
                    let body = json!({
                        "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                        "model": DEFAULT_AGENT, "choices": [], "usage": usage_json(&usage),
                    });
                    self.pending
                        .push_back(Event::default().data(body.to_string()));
                }
                if let Some(answered) = self.answered.take() {
                    answered.remember(&self.sent);
                }
                self.finish();
            }
            TurnEvent::Agent(AgentEvent::Error { message, .. }) => {
                let body = json!({"error": {
                    "message": format!("the agent's turn failed: {message}"),
                    "type": "server_error", "param": null, "code": "turn_failed",
                }});
                self.pending
                    .push_back(Event::default().data(body.to_string()));
                self.finish();
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        self.pending.push_back(Event::default().data("[DONE]"));
        self.done = true;
    }
}

/// The turn as `chat.completion.chunk` events: the role first, then the answer's text,
/// the finish reason, the usage when asked for, and `[DONE]`.
fn stream_chunks(
    turn: TurnHandle,
    first_event: Option<TurnEvent>,
    answered: Answered,
    id: String,
    include_usage: bool,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let mut state = ChunkStream {
        turn,
        answered: Some(answered),
        id,
        created: unix_now(),
        include_usage,
        sent: String::new(),
        after_tools: false,
        pending: VecDeque::new(),
        done: false,
    };
    let first = state.chunk(json!({"role": "assistant", "content": ""}), None);
    state.pending.push_back(first);
    state.on_event(first_event.unwrap_or_else(|| {
        TurnEvent::Agent(AgentEvent::Error {
            message: "the turn ended without an answer".into(),
            failure: None,
        })
    }));
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok(event), state));
            }
            if state.done {
                return None;
            }
            match state.turn.events.recv().await {
                Some(event) => state.on_event(event),
                None => {
                    state.on_event(TurnEvent::Agent(AgentEvent::Error {
                        message: "the turn ended without an answer".into(),
                        failure: None,
                    }));
                }
            }
        }
    })
}

/// Answered histories (and `user` values) to the session they continue, keyed by a
/// keyed hash of the lines (random per process, so nobody can aim at another's key),
/// bounded: past `capacity` the oldest entries are forgotten.
struct HistoryIndex {
    hasher: RandomState,
    capacity: usize,
    entries: Mutex<IndexEntries>,
}

#[derive(Default)]
struct IndexEntries {
    sessions: HashMap<u64, (String, u64)>,
    order: VecDeque<(u64, u64)>,
    next: u64,
}

impl HistoryIndex {
    fn new(capacity: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            capacity,
            entries: Mutex::new(IndexEntries::default()),
        }
    }

    fn key(&self, lines: &[Line]) -> u64 {
        self.hasher.hash_one(lines)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IndexEntries> {
        // The map holds plain data; a panic elsewhere cannot leave it half-written.
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn get(&self, key: u64) -> Option<String> {
        self.lock().sessions.get(&key).map(|(id, _)| id.clone())
    }

    /// Removes and returns the session for `key`: a history continues once (a client
    /// that regenerates from the same history gets a session of its own).
    fn take(&self, key: u64) -> Option<String> {
        self.lock().sessions.remove(&key).map(|(id, _)| id)
    }

    fn insert(&self, key: u64, session_id: String) {
        let mut entries = self.lock();
        let generation = entries.next;
        entries.next += 1;
        entries.sessions.insert(key, (session_id, generation));
        entries.order.push_back((key, generation));
        while entries.order.len() > self.capacity {
            if let Some((old_key, old_generation)) = entries.order.pop_front() {
                if entries
                    .sessions
                    .get(&old_key)
                    .is_some_and(|(_, g)| *g == old_generation)
                {
                    entries.sessions.remove(&old_key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(role: &str, text: &str) -> Line {
        (role.to_string(), text.to_string())
    }

    #[test]
    fn a_history_continues_its_session_once_and_the_index_stays_bounded() {
        let index = HistoryIndex::new(2);
        let history = [line("user", "hi"), line("assistant", "hello")];
        index.insert(index.key(&history), "s1".into());
        assert_eq!(index.take(index.key(&history)), Some("s1".into()));
        assert_eq!(index.take(index.key(&history)), None);
        for n in 0..5 {
            index.insert(index.key(&[line("user", &n.to_string())]), format!("s{n}"));
        }
        assert_eq!(index.lock().sessions.len(), 2);
        assert_eq!(
            index.get(index.key(&[line("user", "4")])),
            Some("s4".into())
        );
        assert_eq!(index.get(index.key(&[line("user", "0")])), None);
    }

    #[test]
    fn unknown_earlier_messages_are_quoted_into_a_new_session() {
        let text = with_earlier_messages(&[line("user", "a"), line("assistant", "b")], "c");
        assert!(text.contains("[user] a\n[assistant] b\n"), "{text}");
        assert!(text.ends_with("c"));
        assert_eq!(with_earlier_messages(&[], "c"), "c");
    }
}
