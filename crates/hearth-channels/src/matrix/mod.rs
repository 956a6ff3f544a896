//! Matrix over the client-server API (plain JSON over reqwest): `/sync` long polling
//! with the stored sync token as the cursor (asking with it acknowledges what came
//! before), replies as `m.text` with `formatted_body` built from escaped text, sends as
//! `PUT .../send/m.room.message/{txnId}` with a transaction id derived from the outbox
//! row (a retried send after a restart is not posted twice), typing notifications,
//! `m.file`/`m.image` downloads. An invite is an implicit `/start` from the inviter:
//! the router decides who it is, and the room is joined when the first reply is sent
//! there (a greeting, or a stranger's pairing code). End-to-end encryption is not
//! supported: an encrypted room gets one plain notice saying so.

mod client;
mod format;
mod wire;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use crate::channel::{
    Attachment, Batch, Button, Channel, ChannelError, ChatRef, Delivery, FetchError,
};

pub use format::{escape_html, to_html, MESSAGE_LIMIT};

/// What an encrypted room is told, once.
pub const ENCRYPTED_ROOM_NOTICE: &str = "Hearth cannot read encrypted rooms: end-to-end \
     encryption is not supported yet. Invite it to a room without encryption.";

/// How the account signs in (values resolved from `secret:NAME`).
#[derive(Clone)]
pub enum MatrixCredentials {
    Password(String),
    AccessToken(String),
}

/// How to reach the account.
#[derive(Clone)]
pub struct MatrixSettings {
    /// The client-server API's base, `https://matrix.example.org`.
    pub homeserver: String,
    /// The bot's full user id, `@hearth:example.org`.
    pub user: String,
    pub credentials: MatrixCredentials,
    /// The device a password login signs in on; transaction ids are scoped to it.
    pub device_id: String,
    /// How long one `/sync` waits on the server.
    pub sync_timeout: Duration,
}

impl std::fmt::Debug for MatrixSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixSettings")
            .field("homeserver", &self.homeserver)
            .field("user", &self.user)
            .field("credentials", &"[redacted]")
            .field("device_id", &self.device_id)
            .field("sync_timeout", &self.sync_timeout)
            .finish()
    }
}

impl MatrixSettings {
    pub fn new(homeserver: String, user: String, credentials: MatrixCredentials) -> Self {
        Self {
            homeserver,
            user,
            credentials,
            device_id: "HEARTH".into(),
            sync_timeout: Duration::from_secs(30),
        }
    }
}

/// Rooms the channel has learnt about.
#[derive(Default)]
struct Rooms {
    joined: HashSet<String>,
    encrypted: HashSet<String>,
    warned: HashSet<String>,
}

/// The Matrix channel.
pub struct MatrixChannel {
    settings: MatrixSettings,
    http: reqwest::Client,
    /// The access token once logged in (or the configured one).
    token: tokio::sync::Mutex<Option<String>>,
    rooms: Mutex<Rooms>,
}

/// The sync filter: rooms' messages and state; no presence, receipts or account data.
const SYNC_FILTER: &str = r#"{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"timeline":{"limit":100},"ephemeral":{"not_types":["*"]},"account_data":{"not_types":["*"]},"state":{"lazy_load_members":true}}}"#;

impl MatrixChannel {
    pub fn new(settings: MatrixSettings) -> Result<Self, ChannelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| ChannelError::fatal(format!("cannot build the HTTP client: {err}")))?;
        let token = match &settings.credentials {
            MatrixCredentials::AccessToken(token) => Some(token.clone()),
            MatrixCredentials::Password(_) => None,
        };
        Ok(Self {
            settings,
            http,
            token: tokio::sync::Mutex::new(token),
            rooms: Mutex::new(Rooms::default()),
        })
    }

    /// The access token, logging in first when signing in with a password.
    async fn access_token(&self) -> Result<String, ChannelError> {
        let mut token = self.token.lock().await;
        if let Some(token) = token.as_ref() {
            return Ok(token.clone());
        }
        let MatrixCredentials::Password(password) = &self.settings.credentials else {
            return Err(ChannelError::fatal("matrix: no access token"));
        };
        let fresh = client::login(
            &self.http,
            &self.settings.homeserver,
            &self.settings.user,
            password,
            &self.settings.device_id,
        )
        .await?;
        *token = Some(fresh.clone());
        Ok(fresh)
    }

    /// An authenticated call; a rejected token is forgotten so that a password login
    /// signs in again on the next try.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
        timeout: Duration,
        what: &str,
    ) -> Result<Value, ChannelError> {
        let token = self.access_token().await?;
        let url = client::endpoint(&self.settings.homeserver, segments)?;
        let result = client::call(&self.http, method, url, Some(&token), body, timeout, what).await;
        if let Err(err) = &result {
            if err.message.contains("M_UNKNOWN_TOKEN")
                && matches!(self.settings.credentials, MatrixCredentials::Password(_))
            {
                *self.token.lock().await = None;
            }
        }
        result
    }

    /// Joins `room` unless the account is known to be in it (after an invite, or after
    /// a restart, when the sync token skips the room's history).
    async fn ensure_joined(&self, room: &str) -> Result<(), ChannelError> {
        let known = self
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .joined
            .contains(room);
        if known {
            return Ok(());
        }
        self.call(
            Method::POST,
            &["v3", "join", room],
            Some(&json!({})),
            Duration::from_secs(30),
            "join",
        )
        .await?;
        self.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .joined
            .insert(room.to_string());
        Ok(())
    }

    /// Puts one `m.room.message` in `to` under transaction id `txn`.
    async fn put_message(
        &self,
        to: &ChatRef,
        content: &Value,
        txn: &str,
    ) -> Result<Delivery, ChannelError> {
        self.ensure_joined(&to.chat).await?;
        let answer = self
            .call(
                Method::PUT,
                &["v3", "rooms", &to.chat, "send", "m.room.message", txn],
                Some(content),
                Duration::from_secs(30),
                "send",
            )
            .await?;
        Ok(Delivery {
            message_ref: answer["event_id"].as_str().unwrap_or("").to_string(),
        })
    }

    /// Tells each newly seen encrypted room, once, that Hearth cannot read it.
    async fn warn_encrypted(&self, rooms: &[String]) {
        for room in rooms {
            let first = self
                .rooms
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .warned
                .insert(room.clone());
            if !first {
                continue;
            }
            let to = ChatRef {
                chat: room.clone(),
                thread: String::new(),
            };
            let content = format::message_content(ENCRYPTED_ROOM_NOTICE, true, "");
            let txn = format!("hearth-encrypted-{:016x}", fnv1a(room.as_bytes()));
            if let Err(err) = self.put_message(&to, &content, &txn).await {
                tracing::debug!("{err}");
            }
        }
    }
}

/// A stable 64-bit hash (FNV-1a), for transaction ids that must not change between
/// builds.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A fresh transaction id, for messages that are not queued (approval questions).
fn fresh_txn() -> String {
    static SENT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("hearth-r-{nanos}-{}", SENT.fetch_add(1, Ordering::Relaxed))
}

#[async_trait]
impl Channel for MatrixChannel {
    fn name(&self) -> &str {
        "matrix"
    }

    async fn receive(&self, cursor: Option<&str>) -> Result<Batch, ChannelError> {
        let wait = if cursor.is_some() {
            self.settings.sync_timeout
        } else {
            Duration::ZERO
        };
        let token = self.access_token().await?;
        let mut url = client::endpoint(&self.settings.homeserver, &["v3", "sync"])?;
        url.query_pairs_mut()
            .append_pair("timeout", &wait.as_millis().to_string())
            .append_pair("filter", SYNC_FILTER);
        if let Some(since) = cursor {
            url.query_pairs_mut().append_pair("since", since);
        }
        let answer = client::call(
            &self.http,
            Method::GET,
            url,
            Some(&token),
            None,
            wait + Duration::from_secs(30),
            "sync",
        )
        .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                if err.message.contains("M_UNKNOWN_TOKEN")
                    && matches!(self.settings.credentials, MatrixCredentials::Password(_))
                {
                    *self.token.lock().await = None;
                }
                return Err(err);
            }
        };
        let sync: wire::SyncResponse = serde_json::from_value(answer).map_err(|err| {
            ChannelError::retryable(format!("matrix sync: unreadable answer: {err}"))
        })?;
        let next = sync.next_batch.clone();
        let found = wire::findings(sync, &self.settings.user, cursor, cursor.is_some());
        let to_warn: Vec<String> = {
            let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
            rooms.joined.extend(found.joined.iter().cloned());
            rooms.encrypted.extend(found.encrypted.iter().cloned());
            // Rooms joined with encryption on, and rooms where an encrypted message came.
            let joined_encrypted = found
                .joined
                .iter()
                .filter(|room| rooms.encrypted.contains(*room));
            let mut to_warn: Vec<String> = joined_encrypted
                .chain(&found.encrypted_message_in)
                .filter(|room| !rooms.warned.contains(*room))
                .cloned()
                .collect();
            to_warn.dedup();
            to_warn
        };
        self.warn_encrypted(&to_warn).await;
        Ok(Batch {
            items: found.items,
            cursor: (!next.is_empty()).then_some(next),
        })
    }

    fn format_reply(&self, text: &str) -> Vec<String> {
        format::split(text, MESSAGE_LIMIT)
    }

    /// Matrix has no buttons: the question's text already asks for `approve` or `deny`.
    async fn send(
        &self,
        to: &ChatRef,
        formatted: &str,
        _buttons: &[Button],
    ) -> Result<Delivery, ChannelError> {
        let content = format::message_content(formatted, false, &to.thread);
        self.put_message(to, &content, &fresh_txn()).await
    }

    async fn send_queued(
        &self,
        to: &ChatRef,
        formatted: &str,
        outbox_id: i64,
    ) -> Result<Delivery, ChannelError> {
        let content = format::message_content(formatted, false, &to.thread);
        let mut key = to.chat.clone().into_bytes();
        key.push(0);
        key.extend_from_slice(formatted.as_bytes());
        let txn = format!("hearth-{outbox_id}-{:016x}", fnv1a(&key));
        let delivery = self.put_message(to, &content, &txn).await?;
        let encrypted = self
            .rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encrypted
            .contains(&to.chat);
        if encrypted {
            self.warn_encrypted(std::slice::from_ref(&to.chat)).await;
        }
        Ok(delivery)
    }

    async fn typing(&self, to: &ChatRef) {
        let body = json!({ "typing": true, "timeout": 8000 });
        let user = self.settings.user.clone();
        if let Err(err) = self
            .call(
                Method::PUT,
                &["v3", "rooms", &to.chat, "typing", &user],
                Some(&body),
                Duration::from_secs(10),
                "typing",
            )
            .await
        {
            tracing::debug!("{err}");
        }
    }

    async fn answer_button(&self, _to: &ChatRef, _press: &str, _message: &str, _answer: &str) {}

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let (server, media) = attachment
            .handle
            .strip_prefix("mxc://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| ChannelError::fatal("matrix: the file's URL is not an mxc:// URL"))?;
        let token = self.access_token().await?;
        let url = client::endpoint(
            &self.settings.homeserver,
            &["v1", "media", "download", server, media],
        )?;
        let mut response = self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|err| {
                ChannelError::retryable(format!("matrix download: {}", err.without_url()))
            })?;
        if !response.status().is_success() {
            return Err(ChannelError::fatal(format!(
                "matrix download: HTTP {}",
                response.status()
            ))
            .into());
        }
        if let Some(size) = response.content_length().filter(|size| *size > max_bytes) {
            return Err(FetchError::TooLarge {
                size,
                limit: max_bytes,
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| {
            ChannelError::retryable(format!("matrix download: {}", err.without_url()))
        })? {
            let size = (bytes.len() + chunk.len()) as u64;
            if size > max_bytes {
                return Err(FetchError::TooLarge {
                    size,
                    limit: max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
