//! The `Channel` abstraction: what a chat service (Telegram, Matrix, email) gives the
//! router: batches of received messages with the cursor past them, sending formatted
//! and split replies with delivery reports, "typing…", attachments and approval buttons.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Where a message came from and a reply goes: a chat, and a thread in it (empty when
/// the channel has none; an email thread's root `Message-ID`, a Matrix thread's root).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatRef {
    pub chat: String,
    #[serde(default)]
    pub thread: String,
}

/// A file that came with a message, fetched only after the message is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The channel's handle for fetching it (Telegram's `file_id`, an MXC URL, a MIME part).
    pub handle: String,
    /// A file name to save it as (made safe before use).
    pub name: String,
    /// The size the server announced, if it did.
    pub size: Option<u64>,
}

/// What arrived: a message, or a press of a button the gateway sent (an approval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Incoming {
    Message {
        text: String,
        #[serde(default)]
        attachments: Vec<Attachment>,
        /// A name to show for the sender (pairing, `hearth channels list`).
        #[serde(default)]
        sender_name: String,
        /// The channel's id of the message, to reply to (email's `Message-ID`).
        #[serde(default)]
        message_ref: String,
    },
    Button {
        /// The button's data as sent (`approve:ID` / `deny:ID`).
        data: String,
        /// The channel's id of the press (Telegram's callback query id), to acknowledge it.
        press_ref: String,
        /// The message that carried the buttons, to remove them once answered.
        message_ref: String,
    },
}

/// One received item with its server id, sender and chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Unique per channel: a redelivery of the same id is not a new message.
    pub external_id: String,
    pub sender: String,
    pub to: ChatRef,
    pub incoming: Incoming,
}

/// What one wait on the server gave: items and the cursor to resume after them
/// (Telegram's next offset, Matrix's `next_batch`, IMAP's last UID). The router stores
/// both in one transaction before asking for more, which is the acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub items: Vec<Received>,
    pub cursor: Option<String>,
}

/// A button under a message (approvals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub data: String,
}

/// A sent message, as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The server's id of the sent message.
    pub message_ref: String,
}

/// Why a channel call failed; `retryable` ones are tried again with backoff.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ChannelError {
    pub message: String,
    /// A network error or a 5xx/429: the same call may work later.
    pub retryable: bool,
}

impl ChannelError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// A chat service. Implementations speak its wire protocol and nothing else: who may
/// talk, which session answers and what is stored are the router's.
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// The channel's name in config, the store and `hearth channels` (`telegram`).
    fn name(&self) -> &str;

    /// Waits (long poll, sync, IDLE) for what arrived after `cursor` (`None`: from
    /// wherever the server starts). Returning is not an acknowledgement: the next call,
    /// with the returned cursor, is.
    async fn receive(&self, cursor: Option<&str>) -> Result<Batch, ChannelError>;

    /// `text` (the model's plain text) in the channel's format, split to its size limit
    /// at paragraph or code-block boundaries; each chunk is sent as one message.
    fn format_reply(&self, text: &str) -> Vec<String>;

    /// Sends one chunk made by [`format_reply`](Self::format_reply) (or plain text the
    /// router wrote, formatted the same way), with buttons under it if any.
    async fn send(
        &self,
        to: &ChatRef,
        formatted: &str,
        buttons: &[Button],
    ) -> Result<Delivery, ChannelError>;

    /// Sends a queued reply chunk: `outbox_id` is its outbox row, the same on every try
    /// and across restarts, so a channel with idempotent sends (Matrix's transaction
    /// ids) makes a retry of a chunk the server already took a no-op.
    async fn send_queued(
        &self,
        to: &ChatRef,
        formatted: &str,
        outbox_id: i64,
    ) -> Result<Delivery, ChannelError> {
        let _ = outbox_id;
        self.send(to, formatted, &[]).await
    }

    /// Shows "typing…" (or the channel's like) for a few seconds; best effort.
    async fn typing(&self, to: &ChatRef);

    /// Acknowledges a button press (`answer` shown to the presser) and removes the
    /// buttons from the message that carried them; best effort.
    async fn answer_button(&self, to: &ChatRef, press_ref: &str, message_ref: &str, answer: &str);

    /// Fetches an attachment, refusing one over `max_bytes`.
    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>, FetchError>;
}

/// Why an attachment was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Channel(#[from] ChannelError),
}
