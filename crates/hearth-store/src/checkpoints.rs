//! Compaction checkpoints: a summary of a session's transcript up to a message, which
//! later requests carry instead of those messages. The messages themselves stay in the
//! transcript; a resumed session is rebuilt as the latest summary + what came after it.

use hearth_protocol::Message;
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::error::AtDatabase;
use crate::{Store, StoreError};

/// One stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub id: i64,
    pub session_id: String,
    /// The summary covers the transcript's messages with `seq <= up_to_seq`.
    pub up_to_seq: i64,
    pub summary: String,
    /// `provider:model` that wrote the summary.
    pub model: String,
    /// Estimated input tokens of the next request before and after compaction.
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// RFC 3339 UTC with milliseconds.
    pub created_at: String,
}

/// What a new checkpoint records (the store adds its id and time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCheckpoint {
    pub up_to_seq: i64,
    pub summary: String,
    pub model: String,
    pub tokens_before: u64,
    pub tokens_after: u64,
}

/// A session's history as the next request needs it: the latest checkpoint (if any) and
/// the messages after it, each with its sequence number.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResumeContext {
    pub checkpoint: Option<Checkpoint>,
    pub messages: Vec<(i64, Message)>,
}

const CHECKPOINT_COLUMNS: &str =
    "id, session_id, up_to_seq, summary, model, tokens_before, tokens_after, created_at";

impl Checkpoint {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let tokens = |index: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(row.get::<_, i64>(index)?).unwrap_or(0))
        };
        Ok(Checkpoint {
            id: row.get(0)?,
            session_id: row.get(1)?,
            up_to_seq: row.get(2)?,
            summary: row.get(3)?,
            model: row.get(4)?,
            tokens_before: tokens(5)?,
            tokens_after: tokens(6)?,
            created_at: row.get(7)?,
        })
    }
}

impl Store {
    /// Durably records a checkpoint of `session_id`.
    pub fn add_checkpoint(
        &self,
        session_id: &str,
        checkpoint: &NewCheckpoint,
    ) -> Result<Checkpoint, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        self.require_session(&tx, session_id)?;
        tx.execute(
            "INSERT INTO checkpoints (session_id, up_to_seq, summary, model, tokens_before,
                 tokens_after, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            params![
                session_id,
                checkpoint.up_to_seq,
                checkpoint.summary,
                checkpoint.model,
                i64::try_from(checkpoint.tokens_before).unwrap_or(i64::MAX),
                i64::try_from(checkpoint.tokens_after).unwrap_or(i64::MAX),
            ],
        )
        .at(self.path())?;
        let id = tx.last_insert_rowid();
        let stored = tx
            .query_row(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE id = ?1"),
                [id],
                Checkpoint::from_row,
            )
            .at(self.path())?;
        tx.commit().at(self.path())?;
        Ok(stored)
    }

    /// The session's checkpoints, oldest first.
    pub fn checkpoints(&self, session_id: &str) -> Result<Vec<Checkpoint>, StoreError> {
        let connection = self.connection();
        self.require_session(&connection, session_id)?;
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE session_id = ?1
                 ORDER BY up_to_seq, id"
            ))
            .at(self.path())?;
        let rows = statement
            .query_map([session_id], Checkpoint::from_row)
            .and_then(|rows| rows.collect())
            .at(self.path());
        rows
    }

    /// The history the next request of `session_id` starts from: the latest checkpoint
    /// and the messages after it (the whole transcript when there is none).
    pub fn resume_context(&self, session_id: &str) -> Result<ResumeContext, StoreError> {
        let connection = self.connection();
        let checkpoint = connection
            .query_row(
                &format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE session_id = ?1
                     ORDER BY up_to_seq DESC, id DESC LIMIT 1"
                ),
                [session_id],
                Checkpoint::from_row,
            )
            .optional()
            .at(self.path())?;
        let after = checkpoint.as_ref().map_or(0, |c| c.up_to_seq);
        let messages = self
            .transcript(&connection, session_id)?
            .into_iter()
            .filter(|(seq, _)| *seq > after)
            .collect();
        Ok(ResumeContext {
            checkpoint,
            messages,
        })
    }

    /// The session's transcript with each message's sequence number.
    pub fn messages_with_seq(&self, session_id: &str) -> Result<Vec<(i64, Message)>, StoreError> {
        let connection = self.connection();
        self.transcript(&connection, session_id)
    }
}
