//! Chat channels' durable state (schema 7): cursors stored with the messages they cover,
//! the inbox (`received` → `started` → `answered`), chat → session mapping, admitted
//! senders, pairing codes (expiry and a per-sender rate limit) and the outbox of replies.
//!
//! The channel layer (`hearth-channels`) acknowledges a message to its server only after
//! [`Store::channel_receive`] returned: the messages and the cursor past them are in one
//! transaction, so a restart neither loses nor repeats one.

use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::AtDatabase;
use crate::{Store, StoreError};

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// A message as the inbox holds it. `body` is the channel layer's JSON (text,
/// attachments, or a button press); the store does not look inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxMessage {
    pub id: i64,
    pub channel: String,
    /// The server's id of the message (Telegram's update id, Matrix's event id, IMAP's UID).
    pub external_id: String,
    pub chat: String,
    /// Empty when the channel has no threads.
    pub thread: String,
    pub sender: String,
    pub body: String,
    pub state: String,
}

/// A message to put into the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxMessage {
    pub external_id: String,
    pub chat: String,
    pub thread: String,
    pub sender: String,
    pub body: String,
}

/// A channel as `hearth channels status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStatus {
    pub channel: String,
    /// `connected`, `reconnecting`, `stopped` or `unknown`.
    pub connection: String,
    pub detail: String,
    pub cursor: Option<String>,
    pub updated_at: String,
    /// Inbox messages not yet answered.
    pub pending: i64,
}

/// A sender admitted to a channel (by `hearth channels pair`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmittedSender {
    pub channel: String,
    pub sender: String,
    pub display_name: String,
    pub admitted_at: String,
}

/// A stranger's pairing code, when one may be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingOffer {
    /// Send this code now (new, or the old one again once the rate limit allows).
    Send { code: String },
    /// A code was sent to this sender within the rate-limit window: send nothing.
    Quiet,
}

/// One reply chunk in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxReply {
    pub id: i64,
    pub channel: String,
    pub chat: String,
    pub thread: String,
    pub body: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
}

/// A type read from one row of a channel table.
trait ChannelRow: Sized {
    const TABLE: &'static str;
    /// The columns [`from_row`](Self::from_row) reads, in its order.
    const COLUMNS: &'static str;
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

impl ChannelRow for InboxMessage {
    const TABLE: &'static str = "channel_inbox";
    const COLUMNS: &'static str = "id, channel, external_id, chat, thread, sender, body, state";
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            channel: row.get(1)?,
            external_id: row.get(2)?,
            chat: row.get(3)?,
            thread: row.get(4)?,
            sender: row.get(5)?,
            body: row.get(6)?,
            state: row.get(7)?,
        })
    }
}

impl ChannelRow for OutboxReply {
    const TABLE: &'static str = "channel_outbox";
    const COLUMNS: &'static str = "id, channel, chat, thread, body, status, attempts, last_error";
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            channel: row.get(1)?,
            chat: row.get(2)?,
            thread: row.get(3)?,
            body: row.get(4)?,
            status: row.get(5)?,
            attempts: row.get(6)?,
            last_error: row.get(7)?,
        })
    }
}

impl Store {
    /// Stores `messages` (a redelivered one, same `external_id`, is skipped) and the
    /// cursor past them in one transaction; returns, for each message in order, its new
    /// inbox id (`None`: it was stored before).
    pub fn channel_receive(
        &self,
        channel: &str,
        messages: &[NewInboxMessage],
        cursor: Option<&str>,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(self.path())?;
        let mut ids = Vec::new();
        for message in messages {
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO channel_inbox
                           (channel, external_id, chat, thread, sender, body, state,
                            received_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received', {NOW}, {NOW})
                         ON CONFLICT (channel, external_id) DO NOTHING"
                    ),
                    params![
                        channel,
                        message.external_id,
                        message.chat,
                        message.thread,
                        message.sender,
                        message.body
                    ],
                )
                .at(self.path())?;
            ids.push((inserted == 1).then(|| tx.last_insert_rowid()));
        }
        if let Some(cursor) = cursor {
            tx.execute(
                &format!(
                    "INSERT INTO channel_state (channel, cursor, updated_at)
                     VALUES (?1, ?2, {NOW})
                     ON CONFLICT (channel) DO UPDATE SET cursor = ?2, updated_at = {NOW}"
                ),
                params![channel, cursor],
            )
            .at(self.path())?;
        }
        tx.commit().at(self.path())?;
        Ok(ids)
    }

    /// The cursor stored by the last [`channel_receive`](Self::channel_receive).
    pub fn channel_cursor(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT cursor FROM channel_state WHERE channel = ?1",
                [channel],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
            .at(self.path())
    }

    /// Records what the gateway sees of the channel's server.
    pub fn set_channel_connection(
        &self,
        channel: &str,
        connection_state: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                &format!(
                    "INSERT INTO channel_state (channel, connection, detail, updated_at)
                     VALUES (?1, ?2, ?3, {NOW})
                     ON CONFLICT (channel) DO UPDATE
                     SET connection = ?2, detail = ?3, updated_at = {NOW}"
                ),
                params![channel, connection_state, detail],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Every channel the gateway has recorded, by name.
    pub fn channel_statuses(&self) -> Result<Vec<ChannelStatus>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT s.channel, s.connection, s.detail, s.cursor, s.updated_at,
                        (SELECT count(*) FROM channel_inbox i
                         WHERE i.channel = s.channel AND i.state IN ('received', 'started'))
                 FROM channel_state s ORDER BY s.channel",
            )
            .at(self.path())?;
        let rows = statement
            .query_map([], |row| {
                Ok(ChannelStatus {
                    channel: row.get(0)?,
                    connection: row.get(1)?,
                    detail: row.get(2)?,
                    cursor: row.get(3)?,
                    updated_at: row.get(4)?,
                    pending: row.get(5)?,
                })
            })
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// Inbox messages of `channel` not yet answered (`received` or `started`: a turn a
    /// restart interrupted), oldest first.
    pub fn channel_unanswered(&self, channel: &str) -> Result<Vec<InboxMessage>, StoreError> {
        self.channel_rows("channel = ?1 AND state IN ('received', 'started')", channel)
    }

    /// Every inbox message of `channel`, oldest first.
    pub fn channel_inbox(&self, channel: &str) -> Result<Vec<InboxMessage>, StoreError> {
        self.channel_rows("channel = ?1", channel)
    }

    /// The rows of `T`'s table that match `condition` (`?1` is the channel), oldest first.
    fn channel_rows<T: ChannelRow>(
        &self,
        condition: &str,
        channel: &str,
    ) -> Result<Vec<T>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {} FROM {} WHERE {condition} ORDER BY id",
                T::COLUMNS,
                T::TABLE
            ))
            .at(self.path())?;
        let rows = statement
            .query_map([channel], T::from_row)
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// Moves an inbox message to `state` (`started`, `answered`, `refused`, `failed`).
    pub fn set_inbox_state(&self, id: i64, state: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                &format!("UPDATE channel_inbox SET state = ?2, updated_at = {NOW} WHERE id = ?1"),
                params![id, state],
            )
            .at(self.path())?;
        Ok(())
    }

    /// The session a chat (and thread) talks to.
    pub fn channel_session(
        &self,
        channel: &str,
        chat: &str,
        thread: &str,
    ) -> Result<Option<String>, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT session_id FROM channel_sessions
                 WHERE channel = ?1 AND chat = ?2 AND thread = ?3",
                params![channel, chat, thread],
                |row| row.get(0),
            )
            .optional()
            .at(self.path())
    }

    /// Points a chat (and thread) at `session_id` (`/new`, or its first message).
    pub fn set_channel_session(
        &self,
        channel: &str,
        chat: &str,
        thread: &str,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                &format!(
                    "INSERT INTO channel_sessions (channel, chat, thread, session_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, {NOW})
                     ON CONFLICT (channel, chat, thread)
                     DO UPDATE SET session_id = ?4, updated_at = {NOW}"
                ),
                params![channel, chat, thread, session_id],
            )
            .at(self.path())?;
        Ok(())
    }

    /// Whether `sender` was admitted to `channel` by pairing.
    pub fn is_admitted(&self, channel: &str, sender: &str) -> Result<bool, StoreError> {
        let connection = self.connection();
        connection
            .query_row(
                "SELECT 1 FROM channel_senders WHERE channel = ?1 AND sender = ?2",
                params![channel, sender],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .at(self.path())
    }

    /// Every admitted sender, by channel and sender.
    pub fn admitted_senders(&self) -> Result<Vec<AdmittedSender>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT channel, sender, display_name, admitted_at FROM channel_senders
                 ORDER BY channel, sender",
            )
            .at(self.path())?;
        let rows = statement
            .query_map([], |row| {
                Ok(AdmittedSender {
                    channel: row.get(0)?,
                    sender: row.get(1)?,
                    display_name: row.get(2)?,
                    admitted_at: row.get(3)?,
                })
            })
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// Whether a pairing code may be sent to a stranger now (`now`: Unix seconds).
    /// The sender's unexpired code is kept (a new one replaces an expired one, `fresh`);
    /// a code is sent at most once per `rate_limit_secs` per sender.
    #[allow(clippy::too_many_arguments)]
    pub fn pairing_offer(
        &self,
        channel: &str,
        sender: &str,
        chat: &str,
        display_name: &str,
        fresh: &str,
        now: i64,
        ttl_secs: i64,
        rate_limit_secs: i64,
    ) -> Result<PairingOffer, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(self.path())?;
        let existing: Option<(String, i64, i64)> = tx
            .query_row(
                "SELECT code, expires_at, last_sent_at FROM channel_pairing
                 WHERE channel = ?1 AND sender = ?2",
                params![channel, sender],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .at(self.path())?;
        let admitted = tx
            .query_row(
                "SELECT 1 FROM channel_senders WHERE channel = ?1 AND sender = ?2",
                params![channel, sender],
                |_| Ok(()),
            )
            .optional()
            .at(self.path())?
            .is_some();
        let offer = match existing {
            // Admitted meanwhile (a message checked just before `pair` ran).
            _ if admitted => PairingOffer::Quiet,
            Some((_, _, last_sent)) if now - last_sent < rate_limit_secs => PairingOffer::Quiet,
            Some((code, expires_at, _)) if expires_at > now => {
                tx.execute(
                    "UPDATE channel_pairing SET last_sent_at = ?2, chat = ?3 WHERE code = ?1",
                    params![code, now, chat],
                )
                .at(self.path())?;
                PairingOffer::Send { code }
            }
            _ => {
                tx.execute(
                    "DELETE FROM channel_pairing WHERE channel = ?1 AND sender = ?2",
                    params![channel, sender],
                )
                .at(self.path())?;
                tx.execute(
                    "INSERT INTO channel_pairing
                       (code, channel, sender, chat, display_name, expires_at, last_sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        fresh,
                        channel,
                        sender,
                        chat,
                        display_name,
                        now + ttl_secs,
                        now
                    ],
                )
                .at(self.path())?;
                PairingOffer::Send {
                    code: fresh.to_string(),
                }
            }
        };
        tx.commit().at(self.path())?;
        Ok(offer)
    }

    /// Admits the sender whose unexpired pairing code is `code` (case-insensitive) and
    /// forgets the code; `None` when no such code is waiting.
    pub fn pair(&self, code: &str, now: i64) -> Result<Option<AdmittedSender>, StoreError> {
        let code = code.trim().to_ascii_uppercase();
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(self.path())?;
        let found: Option<(String, String, String)> = tx
            .query_row(
                "SELECT channel, sender, display_name FROM channel_pairing
                 WHERE code = ?1 AND expires_at > ?2",
                params![code, now],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .at(self.path())?;
        let Some((channel, sender, display_name)) = found else {
            return Ok(None);
        };
        tx.execute(
            &format!(
                "INSERT INTO channel_senders (channel, sender, display_name, admitted_at)
                 VALUES (?1, ?2, ?3, {NOW}) ON CONFLICT (channel, sender) DO NOTHING"
            ),
            params![channel, sender, display_name],
        )
        .at(self.path())?;
        tx.execute("DELETE FROM channel_pairing WHERE code = ?1", [&code])
            .at(self.path())?;
        let admitted = tx
            .query_row(
                "SELECT admitted_at FROM channel_senders WHERE channel = ?1 AND sender = ?2",
                params![channel, sender],
                |row| row.get(0),
            )
            .at(self.path())?;
        tx.commit().at(self.path())?;
        Ok(Some(AdmittedSender {
            channel,
            sender,
            display_name,
            admitted_at: admitted,
        }))
    }

    /// Queues a reply's chunks and marks the inbox message answered, in one transaction
    /// (a restart sends what is queued; it never runs the turn again). Returns the ids.
    pub fn queue_reply(
        &self,
        channel: &str,
        chat: &str,
        thread: &str,
        inbox_id: Option<i64>,
        chunks: &[String],
    ) -> Result<Vec<i64>, StoreError> {
        let mut connection = self.connection();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(self.path())?;
        let mut ids = Vec::new();
        for chunk in chunks {
            tx.execute(
                &format!(
                    "INSERT INTO channel_outbox
                       (channel, chat, thread, inbox_id, body, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', {NOW}, {NOW})"
                ),
                params![channel, chat, thread, inbox_id, chunk],
            )
            .at(self.path())?;
            ids.push(tx.last_insert_rowid());
        }
        if let Some(inbox_id) = inbox_id {
            tx.execute(
                &format!(
                    "UPDATE channel_inbox SET state = 'answered', updated_at = {NOW} WHERE id = ?1"
                ),
                [inbox_id],
            )
            .at(self.path())?;
        }
        tx.commit().at(self.path())?;
        Ok(ids)
    }

    /// Records one attempt to send an outbox reply: `sent` (with the server's message
    /// id), `pending` (to retry) or `failed` (given up), with the error if any.
    pub fn record_delivery(
        &self,
        id: i64,
        status: &str,
        external_id: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        connection
            .execute(
                &format!(
                    "UPDATE channel_outbox SET status = ?2, external_id = ?3, last_error = ?4,
                       attempts = attempts + 1, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, status, external_id, error],
            )
            .at(self.path())?;
        Ok(())
    }

    /// The replies of `channel` still to send, oldest first.
    pub fn pending_replies(&self, channel: &str) -> Result<Vec<OutboxReply>, StoreError> {
        self.channel_rows("channel = ?1 AND status = 'pending'", channel)
    }

    /// Every reply of `channel`, oldest first.
    pub fn channel_outbox(&self, channel: &str) -> Result<Vec<OutboxReply>, StoreError> {
        self.channel_rows("channel = ?1", channel)
    }

    /// The outbox rows with these ids, in the order given (ids not found are left out):
    /// for a sender following its own message (a scheduled run's delivery).
    pub fn outbox_replies(&self, ids: &[i64]) -> Result<Vec<OutboxReply>, StoreError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(&format!(
                "SELECT {} FROM {} WHERE id = ?1",
                OutboxReply::COLUMNS,
                OutboxReply::TABLE
            ))
            .at(self.path())?;
        let mut rows = Vec::new();
        for id in ids {
            let row = statement
                .query_row([id], OutboxReply::from_row)
                .optional()
                .at(self.path())?;
            rows.extend(row);
        }
        Ok(rows)
    }
}
