//! A scripted Telegram Bot API server on 127.0.0.1, written from the public Bot API
//! documentation (<https://core.telegram.org/bots/api>), for tests: no Telegram server
//! can run here.
//!
//! It serves `POST /bot<TOKEN>/<method>` with a JSON body for `getUpdates` (long
//! polling: updates with `update_id >= offset`; asking with an `offset` confirms and
//! forgets every earlier update; with none waiting it waits up to `timeout` seconds),
//! `sendMessage`, `sendChatAction`, `getFile`, `answerCallbackQuery` and
//! `editMessageReplyMarkup`, and `GET /file/bot<TOKEN>/<file_path>` for downloads.
//! Answers use the Bot API envelope (`{"ok": true, "result": ...}`; errors
//! `{"ok": false, "error_code", "description"}`); a wrong token is 401, an unknown
//! method 404. A test injects what users do ([`TelegramServer::user_says`],
//! [`TelegramServer::user_sends_document`], [`TelegramServer::user_presses`]), reads
//! every request ([`TelegramServer::requests`]), can make the next calls of a method
//! fail ([`TelegramServer::fail_next`]), and can take the server away and bring it back
//! on the same port with its updates kept ([`TelegramServer::stop`],
//! [`TelegramServer::restart`]).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest `timeout` a `getUpdates` is held for, whatever it asks.
const MAX_POLL: Duration = Duration::from_secs(50);

/// One request the server received: the method (or `file` for a download) and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct TelegramRequest {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    /// Updates not yet confirmed, in order.
    updates: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
    requests: Vec<TelegramRequest>,
    /// file_id → (file_path, bytes).
    files: HashMap<String, (String, Vec<u8>)>,
    /// method → (how many more calls fail, with which status).
    failures: HashMap<String, (usize, u16)>,
}

struct Shared {
    token: String,
    inner: Mutex<Inner>,
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server; dropping it stops serving.
pub struct TelegramServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    /// Cancelled to take this incarnation away (held polls answer 502, the port closes).
    down: CancellationToken,
}

impl TelegramServer {
    /// Serves bot `token` on a free loopback port.
    pub async fn start(token: &str) -> std::io::Result<TelegramServer> {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            inner: Mutex::new(Inner {
                next_update_id: 1000,
                next_message_id: 1,
                ..Inner::default()
            }),
            changed: Notify::new(),
        });
        let (address, down) = serve(shared.clone(), 0).await?;
        Ok(TelegramServer {
            address,
            shared,
            down,
        })
    }

    /// The `api_base` to configure: `http://127.0.0.1:PORT`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Takes the server away: held polls get a 502 and the port stops accepting.
    /// Updates and records are kept for [`restart`](Self::restart).
    pub fn stop(&self) {
        self.down.cancel();
    }

    /// Serves again on the same port with the same updates, files and records.
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.down.cancel();
        let mut last = None;
        for _ in 0..50 {
            match serve(self.shared.clone(), self.address.port()).await {
                Ok((_, down)) => {
                    self.down = down;
                    return Ok(());
                }
                Err(err) => last = Some(err),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("cannot bind")))
    }

    /// User `from` writes `text` in chat `chat`; returns the update id.
    pub fn user_says(&self, from: i64, chat: i64, text: &str) -> i64 {
        self.push_message(from, chat, |message| message["text"] = json!(text))
    }

    /// User `from` sends a document; returns the update id.
    pub fn user_sends_document(&self, from: i64, chat: i64, name: &str, bytes: &[u8]) -> i64 {
        let file_id = self.add_file(name, bytes);
        let size = bytes.len();
        self.push_message(from, chat, |message| {
            message["document"] = json!({
                "file_id": file_id,
                "file_unique_id": format!("u{file_id}"),
                "file_name": name,
                "file_size": size,
            });
        })
    }

    /// User `from` presses the inline button with `data` under the bot's message
    /// `message_id` in `chat`; returns the update id.
    pub fn user_presses(&self, from: i64, chat: i64, message_id: i64, data: &str) -> i64 {
        let mut inner = self.shared.lock();
        let update_id = inner.next_update_id;
        inner.next_update_id += 1;
        inner.updates.push(json!({
            "update_id": update_id,
            "callback_query": {
                "id": format!("cq{update_id}"),
                "from": user(from),
                "chat_instance": format!("ci{chat}"),
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 0,
                    "chat": { "id": chat, "type": "private" },
                },
            },
        }));
        drop(inner);
        self.shared.changed.notify_waiters();
        update_id
    }

    /// The next `count` calls of `method` answer `status` (a Bot API error envelope).
    pub fn fail_next(&self, method: &str, count: usize, status: u16) {
        self.shared
            .lock()
            .failures
            .insert(method.to_string(), (count, status));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<TelegramRequest> {
        self.shared.lock().requests.clone()
    }

    /// The bodies of the successful `sendMessage` calls so far, with the `message_id`
    /// each got added as `"message_id"`.
    pub fn sent_messages(&self) -> Vec<Value> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|request| {
                request.method == "sendMessage" && request.body.get("message_id").is_some()
            })
            .map(|request| request.body.clone())
            .collect()
    }

    /// Waits until `ready` holds for the requests (checked on every request), or
    /// `limit` passes; returns the requests either way.
    pub async fn wait_for(
        &self,
        limit: Duration,
        ready: impl Fn(&[TelegramRequest]) -> bool,
    ) -> Vec<TelegramRequest> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.shared.changed.notified();
            let requests = self.requests();
            if ready(&requests) || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    fn add_file(&self, name: &str, bytes: &[u8]) -> String {
        let mut inner = self.shared.lock();
        let file_id = format!("file{}", inner.files.len() + 1);
        inner.files.insert(
            file_id.clone(),
            (format!("documents/{file_id}-{name}"), bytes.to_vec()),
        );
        file_id
    }

    fn push_message(&self, from: i64, chat: i64, fill: impl FnOnce(&mut Value)) -> i64 {
        let mut inner = self.shared.lock();
        let update_id = inner.next_update_id;
        inner.next_update_id += 1;
        let message_id = inner.next_message_id;
        inner.next_message_id += 1;
        let mut message = json!({
            "message_id": message_id,
            "date": 0,
            "from": user(from),
            "chat": { "id": chat, "type": "private" },
        });
        fill(&mut message);
        inner
            .updates
            .push(json!({ "update_id": update_id, "message": message }));
        drop(inner);
        self.shared.changed.notify_waiters();
        update_id
    }
}

impl Drop for TelegramServer {
    fn drop(&mut self) {
        self.down.cancel();
    }
}

fn user(id: i64) -> Value {
    json!({ "id": id, "is_bot": false, "first_name": format!("user{id}") })
}

/// Binds `port` (0: any) and serves until the returned token is cancelled.
async fn serve(shared: Arc<Shared>, port: u16) -> std::io::Result<(SocketAddr, CancellationToken)> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let address = listener.local_addr()?;
    let down = CancellationToken::new();
    let router = Router::new()
        .fallback(route)
        .with_state((shared, down.clone()));
    let stopped = down.clone().cancelled_owned();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await;
    });
    Ok((address, down))
}

type AppState = (Arc<Shared>, CancellationToken);

async fn route(State((shared, down)): State<AppState>, uri: Uri, body: Bytes) -> Response {
    if down.is_cancelled() {
        // Taken away: a connection kept alive from before gets no more answers.
        return error(StatusCode::BAD_GATEWAY, "Bad Gateway");
    }
    let path = uri.path();
    let bot = format!("/bot{}/", shared.token);
    let file = format!("/file/bot{}/", shared.token);
    if let Some(file_path) = path.strip_prefix(&file) {
        return download(&shared, file_path);
    }
    let Some(method) = path.strip_prefix(&bot) else {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Bad Request: invalid JSON"),
        }
    };
    let (index, failure) = {
        let mut inner = shared.lock();
        inner.requests.push(TelegramRequest {
            method: method.to_string(),
            body: body.clone(),
        });
        let index = inner.requests.len() - 1;
        let failure = match inner.failures.get_mut(method) {
            Some((count, status)) if *count > 0 => {
                *count -= 1;
                Some(*status)
            }
            _ => None,
        };
        (index, failure)
    };
    shared.changed.notify_waiters();
    if let Some(status) = failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(status, "scripted failure");
    }
    match method {
        "getUpdates" => get_updates(&shared, &down, &body).await,
        "sendMessage" => send_message(&shared, &body, index),
        "sendChatAction" | "answerCallbackQuery" | "editMessageReplyMarkup" => ok(json!(true)),
        "getFile" => get_file(&shared, &body),
        _ => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn get_updates(shared: &Shared, down: &CancellationToken, body: &Value) -> Response {
    let offset = body.get("offset").and_then(Value::as_i64);
    let wait = body
        .get("timeout")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .unwrap_or_default()
        .min(MAX_POLL);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let changed = shared.changed.notified();
        let ready: Vec<Value> = {
            let mut inner = shared.lock();
            if let Some(offset) = offset {
                inner
                    .updates
                    .retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
            }
            inner.updates.iter().take(100).cloned().collect()
        };
        if !ready.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(ready));
        }
        tokio::select! {
            () = down.cancelled() => return error(StatusCode::BAD_GATEWAY, "Bad Gateway"),
            _ = tokio::time::timeout_at(deadline, changed) => {}
        }
    }
}

fn send_message(shared: &Shared, body: &Value, index: usize) -> Response {
    let (Some(chat), Some(text)) = (
        body.get("chat_id"),
        body.get("text").and_then(Value::as_str),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Bad Request: chat_id and text are required",
        );
    };
    if text.encode_utf16().count() > 4096 {
        return error(StatusCode::BAD_REQUEST, "Bad Request: message is too long");
    }
    let mut inner = shared.lock();
    let message_id = inner.next_message_id;
    inner.next_message_id += 1;
    if let Some(request) = inner.requests.get_mut(index) {
        request.body["message_id"] = json!(message_id);
    }
    let chat_id = chat
        .as_i64()
        .or_else(|| chat.as_str().and_then(|chat| chat.parse().ok()))
        .unwrap_or(0);
    ok(json!({
        "message_id": message_id,
        "date": 0,
        "chat": { "id": chat_id, "type": "private" },
        "text": text,
    }))
}

fn get_file(shared: &Shared, body: &Value) -> Response {
    let file_id = body.get("file_id").and_then(Value::as_str).unwrap_or("");
    let inner = shared.lock();
    match inner.files.get(file_id) {
        Some((path, bytes)) => ok(json!({
            "file_id": file_id,
            "file_unique_id": format!("u{file_id}"),
            "file_size": bytes.len(),
            "file_path": path,
        })),
        None => error(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id"),
    }
}

fn download(shared: &Shared, file_path: &str) -> Response {
    let mut inner = shared.lock();
    inner.requests.push(TelegramRequest {
        method: "file".into(),
        body: json!({ "file_path": file_path }),
    });
    let found = inner
        .files
        .values()
        .find(|(path, _)| path == file_path)
        .map(|(_, bytes)| bytes.clone());
    match found {
        Some(bytes) => bytes.into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn ok(result: Value) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

fn error(status: StatusCode, description: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "ok": false,
            "error_code": status.as_u16(),
            "description": description,
        })),
    )
        .into_response()
}
