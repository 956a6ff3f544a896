//! Hearth's chat channels: the [`Channel`] abstraction (receive batches with a cursor,
//! send formatted and split replies, typing, buttons, attachments), the
//! [`ChannelService`] that routes each (channel, chat, thread) to its own session,
//! pairing so that strangers never reach the model, and Telegram.
//!
//! This crate does not run turns: whatever does (the gateway's session hub) implements
//! [`TurnRunner`]. It reaches SQLite only through `hearth-store`'s channel API.
//!
//! # Durability
//!
//! A [`Batch`] and its cursor (Telegram's next offset, Matrix's sync token, IMAP's last
//! UID) are stored in one transaction before the channel is asked for more, and asking
//! with the new cursor is the acknowledgement. Inbox messages go `received` → `started`
//! → `answered`; on start, what is not answered runs (again), and replies still queued
//! in the outbox are sent. A reply is queued in the same transaction that marks its
//! message answered, so a restart never runs a turn twice for a message it answered.
//!
//! Architecture invariants: a message from a sender who is neither in `allowed_users`
//! nor admitted by `hearth channels pair` never reaches a [`TurnRunner`]; only an
//! admitted sender's button press answers an approval, and only in the chat where it
//! was asked; this crate never prints; a bot token never appears in a log line (URLs
//! carry it, so request errors are logged without them).

mod channel;
pub mod email;
pub mod matrix;
mod pairing;
mod runner;
mod send_tool;
mod service;
pub mod telegram;

pub use channel::{
    Attachment, Batch, Button, Channel, ChannelError, ChatRef, Delivery, FetchError, Incoming,
    Received,
};
pub use email::{EmailChannel, EmailSettings, EmailTls};
pub use matrix::{MatrixChannel, MatrixCredentials, MatrixSettings};
pub use pairing::{new_code, unix_now};
pub use runner::{RunnerEvent, StartError, TurnRunner};
pub use send_tool::{ChannelDirectory, ChannelSendTool};
pub use service::{ChannelService, ServiceSettings};
pub use telegram::{TelegramChannel, TelegramSettings};

/// The channel kinds Hearth has, by the name each runs under (`[channels.NAME]`,
/// `channel_send`'s `channel`, `hearth schedule add --deliver NAME:CHAT`).
pub const CHANNEL_KINDS: [&str; 3] = ["telegram", "matrix", "email"];
