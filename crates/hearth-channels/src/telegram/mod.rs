//! Telegram over the Bot API: long polling (`getUpdates` with `offset` and `timeout`),
//! `sendMessage` in HTML parse mode (everything escaped, see `format`), `sendChatAction`,
//! `getFile` + the file download, inline-keyboard approvals (`answerCallbackQuery`,
//! `editMessageReplyMarkup`). The cursor is the next `offset`: asking with it is what
//! acknowledges the updates before it, so the router stores them first.

pub(crate) mod format;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::channel::{
    Attachment, Batch, Button, Channel, ChannelError, ChatRef, Delivery, FetchError, Incoming,
    Received,
};

pub use format::{escape_html, format_messages, MESSAGE_LIMIT};

/// The Bot API's public address.
pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";

/// How to reach the bot.
#[derive(Clone)]
pub struct TelegramSettings {
    /// The bot token (resolved from `secret:NAME`); it is part of every URL, so URLs are
    /// never logged.
    pub token: String,
    /// `https://api.telegram.org`, a self-hosted Bot API server or a test server.
    pub api_base: String,
    /// How long one `getUpdates` waits on the server for something to arrive.
    pub poll_timeout: Duration,
}

impl std::fmt::Debug for TelegramSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramSettings")
            .field("token", &"[redacted]")
            .field("api_base", &self.api_base)
            .field("poll_timeout", &self.poll_timeout)
            .finish()
    }
}

impl TelegramSettings {
    pub fn new(token: String) -> Self {
        Self {
            token,
            api_base: DEFAULT_API_BASE.into(),
            poll_timeout: Duration::from_secs(30),
        }
    }
}

/// The Telegram channel.
pub struct TelegramChannel {
    settings: TelegramSettings,
    http: reqwest::Client,
}

impl TelegramChannel {
    pub fn new(settings: TelegramSettings) -> Result<Self, ChannelError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| ChannelError::fatal(format!("cannot build the HTTP client: {err}")))?;
        Ok(Self { settings, http })
    }

    fn method_url(&self, method: &str) -> String {
        format!(
            "{}/bot{}/{method}",
            self.settings.api_base.trim_end_matches('/'),
            self.settings.token
        )
    }

    /// Calls a Bot API method with a JSON body; the request may take `wait` beyond
    /// the usual 30 s (long polling).
    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        body: Value,
        wait: Duration,
    ) -> Result<T, ChannelError> {
        let response = self
            .http
            .post(self.method_url(method))
            .json(&body)
            .timeout(Duration::from_secs(30) + wait)
            .send()
            .await
            .map_err(|err| {
                ChannelError::retryable(format!("telegram {method}: {}", err.without_url()))
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|err| {
            ChannelError::retryable(format!("telegram {method}: {}", err.without_url()))
        })?;
        let envelope: wire::Envelope<T> = serde_json::from_str(&text).map_err(|err| {
            let retryable = status.is_server_error();
            ChannelError {
                message: format!("telegram {method}: HTTP {status}, unreadable answer: {err}"),
                retryable,
            }
        })?;
        match envelope.result {
            Some(result) if envelope.ok => Ok(result),
            _ => {
                let code = envelope.error_code.unwrap_or(status.as_u16());
                let retry_after = envelope.parameters.and_then(|p| p.retry_after);
                Err(ChannelError {
                    message: format!(
                        "telegram {method}: {code} {}{}",
                        envelope.description,
                        retry_after
                            .map(|secs| format!(" (retry after {secs} s)"))
                            .unwrap_or_default()
                    ),
                    retryable: code == 429 || code >= 500,
                })
            }
        }
    }

    fn received(update: wire::Update) -> Option<Received> {
        let external_id = update.update_id.to_string();
        if let Some(query) = update.callback_query {
            let message = query.message?;
            return Some(Received {
                external_id,
                sender: query.from.id.to_string(),
                to: chat_ref(&message),
                incoming: Incoming::Button {
                    data: query.data.unwrap_or_default(),
                    press_ref: query.id,
                    message_ref: message.message_id.to_string(),
                },
            });
        }
        let message = update.message?;
        let from = message.from.as_ref()?;
        let mut attachments = Vec::new();
        if let Some(document) = &message.document {
            attachments.push(Attachment {
                handle: document.file_id.clone(),
                name: document
                    .file_name
                    .clone()
                    .unwrap_or_else(|| "document".into()),
                size: document.file_size,
            });
        }
        // The largest size of a photo Telegram offers.
        if let Some(photo) = message
            .photo
            .as_ref()
            .and_then(|sizes| sizes.iter().max_by_key(|size| size.width * size.height))
        {
            attachments.push(Attachment {
                handle: photo.file_id.clone(),
                name: format!("photo-{}.jpg", message.message_id),
                size: photo.file_size,
            });
        }
        Some(Received {
            external_id,
            sender: from.id.to_string(),
            to: chat_ref(&message),
            incoming: Incoming::Message {
                text: message
                    .text
                    .clone()
                    .or_else(|| message.caption.clone())
                    .unwrap_or_default(),
                attachments,
                sender_name: from.display_name(),
                message_ref: message.message_id.to_string(),
            },
        })
    }
}

fn chat_ref(message: &wire::Message) -> ChatRef {
    ChatRef {
        chat: message.chat.id.to_string(),
        thread: message
            .message_thread_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    }
}

/// `chat_id` (and `message_thread_id` in a forum topic) of a request.
fn target(to: &ChatRef) -> Value {
    let mut body = json!({ "chat_id": to.chat });
    if let Ok(thread) = to.thread.parse::<i64>() {
        body["message_thread_id"] = json!(thread);
    }
    body
}

#[async_trait]
impl Channel for TelegramChannel {
    fn name(&self) -> &str {
        "telegram"
    }

    async fn receive(&self, cursor: Option<&str>) -> Result<Batch, ChannelError> {
        let timeout = self.settings.poll_timeout;
        let mut body = json!({
            "timeout": timeout.as_secs(),
            "allowed_updates": ["message", "callback_query"],
        });
        if let Some(offset) = cursor.and_then(|cursor| cursor.parse::<i64>().ok()) {
            body["offset"] = json!(offset);
        }
        let updates: Vec<wire::Update> = self.call("getUpdates", body, timeout).await?;
        let next = updates.iter().map(|update| update.update_id + 1).max();
        Ok(Batch {
            cursor: next.map(|offset| offset.to_string()),
            items: updates.into_iter().filter_map(Self::received).collect(),
        })
    }

    fn format_reply(&self, text: &str) -> Vec<String> {
        format_messages(text, MESSAGE_LIMIT)
    }

    async fn send(
        &self,
        to: &ChatRef,
        formatted: &str,
        buttons: &[Button],
    ) -> Result<Delivery, ChannelError> {
        let mut body = target(to);
        body["text"] = json!(formatted);
        body["parse_mode"] = json!("HTML");
        if !buttons.is_empty() {
            let row: Vec<Value> = buttons
                .iter()
                .map(|button| json!({ "text": button.label, "callback_data": button.data }))
                .collect();
            body["reply_markup"] = json!({ "inline_keyboard": [row] });
        }
        let sent: wire::Message = self.call("sendMessage", body, Duration::ZERO).await?;
        Ok(Delivery {
            message_ref: sent.message_id.to_string(),
        })
    }

    async fn typing(&self, to: &ChatRef) {
        let mut body = target(to);
        body["action"] = json!("typing");
        if let Err(err) = self
            .call::<bool>("sendChatAction", body, Duration::ZERO)
            .await
        {
            tracing::debug!("{err}");
        }
    }

    async fn answer_button(&self, to: &ChatRef, press_ref: &str, message_ref: &str, answer: &str) {
        let body = json!({ "callback_query_id": press_ref, "text": answer });
        if let Err(err) = self
            .call::<bool>("answerCallbackQuery", body, Duration::ZERO)
            .await
        {
            tracing::debug!("{err}");
        }
        let Ok(message_id) = message_ref.parse::<i64>() else {
            return;
        };
        let body = json!({
            "chat_id": to.chat,
            "message_id": message_id,
            "reply_markup": { "inline_keyboard": [] },
        });
        if let Err(err) = self
            .call::<Value>("editMessageReplyMarkup", body, Duration::ZERO)
            .await
        {
            tracing::debug!("{err}");
        }
    }

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        let file: wire::File = self
            .call(
                "getFile",
                json!({ "file_id": attachment.handle }),
                Duration::ZERO,
            )
            .await?;
        if let Some(size) = file.file_size.filter(|size| *size > max_bytes) {
            return Err(FetchError::TooLarge {
                size,
                limit: max_bytes,
            });
        }
        let path = file
            .file_path
            .ok_or_else(|| ChannelError::fatal("telegram getFile: no file_path in the answer"))?;
        let url = format!(
            "{}/file/bot{}/{path}",
            self.settings.api_base.trim_end_matches('/'),
            self.settings.token
        );
        let response = self
            .http
            .get(url)
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|err| {
                ChannelError::retryable(format!("telegram file: {}", err.without_url()))
            })?;
        if !response.status().is_success() {
            return Err(ChannelError::fatal(format!(
                "telegram file download: HTTP {}",
                response.status()
            ))
            .into());
        }
        read_capped(response, max_bytes).await
    }
}

/// A download's body, refused as soon as it passes `max_bytes` (never held whole).
async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: u64,
) -> Result<Vec<u8>, FetchError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| ChannelError::retryable(format!("telegram file: {}", err.without_url())))?
    {
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
