//! [`Store`]: sessions, their transcripts and token usage in one SQLite file.
//!
//! Every write is one transaction committed with `synchronous=FULL`, so when a method
//! returns `Ok` the change is on disk and survives `kill -9` or a power cut.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hearth_protocol::{Message, ToolResult, Usage};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{AtDatabase, StoreError};
use crate::{repair, schema, title};

/// The current time as SQLite writes it: RFC 3339, UTC, milliseconds.
macro_rules! now_sql {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// Fewest characters of a session id [`Store::session`] accepts as a prefix.
pub const MIN_SESSION_PREFIX: usize = 4;

pub(crate) const SESSION_COLUMNS: &str =
    "s.id, s.title, s.model, s.workspace, s.created_at, s.updated_at,
     (SELECT count(*) FROM messages m WHERE m.session_id = s.id)";

/// A session as listed and shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// A UUID v7, so ids sort by creation time.
    pub id: String,
    /// Empty until set explicitly or by the first user message.
    pub title: String,
    pub model: String,
    pub workspace: String,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-22T03:20:15.123Z`.
    pub created_at: String,
    /// Time of the last message appended (or of creation).
    pub updated_at: String,
    pub message_count: i64,
}

/// One approval question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    pub command: String,
    pub reason: String,
    pub decision: String,
    pub created_at: String,
}

impl SessionInfo {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            title: row.get(1)?,
            model: row.get(2)?,
            workspace: row.get(3)?,
            created_at: row.get(4)?,
            updated_at: row.get(5)?,
            message_count: row.get(6)?,
        })
    }
}

/// The state database. Cheap to share: wrap it in an `Arc`; calls are serialised on
/// one connection, and other processes may open the same file at the same time.
pub struct Store {
    connection: Mutex<Connection>,
    /// Where the database lives, for error messages (`:memory:` when it does not).
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and its parent directory,
    /// and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        create_private_file(path)?;
        let connection = Connection::open(path).at(path)?;
        Self::initialise(connection, path.to_path_buf())
    }

    /// A private database that vanishes when dropped; for tests and one-off runs.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let connection = Connection::open_in_memory().at(&path)?;
        Self::initialise(connection, path)
    }

    fn initialise(mut connection: Connection, path: PathBuf) -> Result<Store, StoreError> {
        schema::configure(&connection, &path)?;
        schema::migrate(&mut connection, &path)?;
        Ok(Store {
            connection: Mutex::new(connection),
            path,
        })
    }

    /// The file this store writes to (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a new, empty session.
    pub fn create_session(&self, model: &str, workspace: &Path) -> Result<SessionInfo, StoreError> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        insert_session(&tx, &id, model, &workspace.to_string_lossy()).at(&self.path)?;
        let info = session_by_id(&tx, &id).at(&self.path)?;
        tx.commit().at(&self.path)?;
        info.ok_or(StoreError::SessionNotFound { query: id })
    }

    /// The session whose id is `id_or_prefix` or starts with it (at least
    /// [`MIN_SESSION_PREFIX`] characters, case-insensitive).
    pub fn session(&self, id_or_prefix: &str) -> Result<SessionInfo, StoreError> {
        let prefix = id_or_prefix.trim().to_ascii_lowercase();
        if prefix.chars().count() < MIN_SESSION_PREFIX {
            return Err(StoreError::PrefixTooShort {
                prefix,
                min: MIN_SESSION_PREFIX,
            });
        }
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                // A range on the primary key (ids are lowercase hex and '-', all below
                // '~'), so a lookup reads the index instead of every session.
                "SELECT id FROM sessions WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id",
            )
            .at(&self.path)?;
        let matches = statement
            .query_map([&prefix], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .at(&self.path)?;
        match matches.as_slice() {
            [] => Err(StoreError::SessionNotFound { query: prefix }),
            [id] => session_by_id(&connection, id)
                .at(&self.path)?
                .ok_or(StoreError::SessionNotFound { query: prefix }),
            _ => Err(StoreError::AmbiguousSession { prefix, matches }),
        }
    }

    /// Every session, the most recently updated first.
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, StoreError> {
        let connection = self.connection();
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.activity DESC");
        let mut statement = connection.prepare_cached(&sql).at(&self.path)?;
        statement
            .query_map([], SessionInfo::from_row)
            .and_then(|rows| rows.collect())
            .at(&self.path)
    }

    /// Durably appends `message` to the session and returns its sequence number
    /// (1 for the first message). The first user message with text also sets the
    /// title if none is set.
    pub fn append(&self, session_id: &str, message: &Message) -> Result<i64, StoreError> {
        self.append_inner(session_id, message, None)
    }

    /// Appends a model's answer and the usage and cost (USD) of the call that produced
    /// it in one transaction: one durable write instead of two on the loop's hot path.
    pub fn append_with_usage(
        &self,
        session_id: &str,
        message: &Message,
        model: &str,
        usage: &Usage,
        cost_usd: f64,
    ) -> Result<i64, StoreError> {
        self.append_inner(session_id, message, Some((model, usage, cost_usd)))
    }

    fn append_inner(
        &self,
        session_id: &str,
        message: &Message,
        usage: Option<(&str, &Usage, f64)>,
    ) -> Result<i64, StoreError> {
        let derived_title = match message {
            Message::User { text, .. } => title::title_from_user_text(text),
            _ => None,
        };
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        self.touch_session(&tx, session_id)?;
        if let Some(derived_title) = derived_title {
            tx.execute(
                "UPDATE sessions SET title = ?2 WHERE id = ?1 AND title = ''",
                params![session_id, derived_title],
            )
            .at(&self.path)?;
        }
        let seq = last_seq(&tx, session_id).at(&self.path)? + 1;
        self.insert_message(&tx, session_id, seq, message)?;
        if let Some((model, usage, cost_usd)) = usage {
            insert_usage(&tx, session_id, model, usage, cost_usd).at(&self.path)?;
        }
        tx.commit().at(&self.path)?;
        Ok(seq)
    }

    /// Replaces the session's title.
    pub fn set_title(&self, session_id: &str, title: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        let changed = connection
            .execute(
                "UPDATE sessions SET title = ?2 WHERE id = ?1",
                params![session_id, title],
            )
            .at(&self.path)?;
        if changed == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    /// Deletes the session with its transcript, usage and approval records (the
    /// foreign keys cascade). Deleting a session that does not exist is an error.
    pub fn delete_session(&self, session_id: &str) -> Result<(), StoreError> {
        let connection = self.connection();
        let deleted = connection
            .execute("DELETE FROM sessions WHERE id = ?1", params![session_id])
            .at(&self.path)?;
        if deleted == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    /// The session's transcript in order.
    pub fn messages(&self, session_id: &str) -> Result<Vec<Message>, StoreError> {
        let connection = self.connection();
        let transcript = self.transcript(&connection, session_id)?;
        Ok(transcript.into_iter().map(|(_, message)| message).collect())
    }

    /// Answers every tool call that has no result with an "interrupted" error result,
    /// so a session stopped mid-turn can be resumed with a valid history. Returns the
    /// results it added, in transcript order; a second call adds nothing.
    /// See [`crate::repair`] for where the results go.
    pub fn repair(&self, session_id: &str) -> Result<Vec<ToolResult>, StoreError> {
        let mut connection = self.connection();
        let tx = self.write_transaction(&mut connection)?;
        let transcript = self.transcript(&tx, session_id)?;
        let insertions = repair::missing_tool_results(&transcript);
        if insertions.is_empty() {
            return Ok(Vec::new());
        }
        self.touch_session(&tx, session_id)?;
        // Last insertion first, so shifting later rows never moves an earlier anchor.
        for insertion in insertions.iter().rev() {
            let count = i64::try_from(insertion.results.len()).unwrap_or(i64::MAX);
            shift_messages_after(&tx, session_id, insertion.after_seq, count).at(&self.path)?;
            for (offset, result) in (1..).zip(&insertion.results) {
                let message = Message::Tool(result.clone());
                self.insert_message(&tx, session_id, insertion.after_seq + offset, &message)?;
            }
        }
        tx.commit().at(&self.path)?;
        Ok(insertions
            .into_iter()
            .flat_map(|insertion| insertion.results)
            .collect())
    }

    /// Records a model call that left no message in the transcript (a compaction
    /// summary): its tokens and cost (USD) go to the ledger like any other call's.
    pub fn record_call(
        &self,
        session_id: &str,
        model: &str,
        usage: &Usage,
        cost_usd: f64,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        let inserted =
            insert_usage(&connection, session_id, model, usage, cost_usd).at(&self.path)?;
        if inserted == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    /// Records the tokens one model call of this session consumed.
    pub fn record_usage(
        &self,
        session_id: &str,
        model: &str,
        usage: &Usage,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        let inserted = insert_usage(&connection, session_id, model, usage, 0.0).at(&self.path)?;
        if inserted == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    /// Records an approval question and the user's decision (e.g. "approved",
    /// "approved for session", "denied: the user declined").
    pub fn record_approval(
        &self,
        session_id: &str,
        command: &str,
        reason: &str,
        decision: &str,
    ) -> Result<(), StoreError> {
        let connection = self.connection();
        let inserted = connection
            .execute(
                concat!(
                    "INSERT INTO approvals (session_id, command, reason, decision, created_at)
                     SELECT id, ?2, ?3, ?4, ",
                    now_sql!(),
                    " FROM sessions WHERE id = ?1"
                ),
                params![session_id, command, reason, decision],
            )
            .at(&self.path)?;
        if inserted == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    /// The session's approval decisions, oldest first.
    pub fn approvals(&self, session_id: &str) -> Result<Vec<ApprovalRecord>, StoreError> {
        let connection = self.connection();
        self.require_session(&connection, session_id)?;
        let mut statement = connection
            .prepare(
                "SELECT command, reason, decision, created_at FROM approvals
                 WHERE session_id = ?1 ORDER BY id",
            )
            .at(&self.path)?;
        let rows = statement
            .query_map([session_id], |row| {
                Ok(ApprovalRecord {
                    command: row.get(0)?,
                    reason: row.get(1)?,
                    decision: row.get(2)?,
                    created_at: row.get(3)?,
                })
            })
            .at(&self.path)?;
        rows.collect::<Result<Vec<_>, _>>().at(&self.path)
    }

    /// The sum of all usage recorded for the session.
    pub fn session_usage(&self, session_id: &str) -> Result<Usage, StoreError> {
        let connection = self.connection();
        self.require_session(&connection, session_id)?;
        let (input, output, cached, cache_creation): (i64, i64, i64, i64) = connection
            .query_row(
                "SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
                        coalesce(sum(cached_tokens), 0), coalesce(sum(cache_creation_tokens), 0)
                 FROM usage_records WHERE session_id = ?1",
                [session_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .at(&self.path)?;
        Ok(Usage {
            input_tokens: tokens_from_sql(input),
            output_tokens: tokens_from_sql(output),
            cached_tokens: tokens_from_sql(cached),
            cache_creation_tokens: tokens_from_sql(cache_creation),
        })
    }

    /// The connection; a panic in another thread cannot leave it mid-transaction
    /// (an unfinished transaction rolls back when dropped), so poisoning is ignored.
    pub(crate) fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A transaction that holds the write lock from the start, so it never has to
    /// upgrade a read lock (which could fail with "busy" without waiting).
    pub(crate) fn write_transaction<'c>(
        &self,
        connection: &'c mut Connection,
    ) -> Result<Transaction<'c>, StoreError> {
        connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(&self.path)
    }

    /// Bumps the session's `updated_at` and activity counter; fails if it does not exist.
    fn touch_session(&self, tx: &Transaction<'_>, session_id: &str) -> Result<(), StoreError> {
        let changed = tx
            .execute(
                concat!(
                    "UPDATE sessions SET updated_at = ",
                    now_sql!(),
                    ", activity = (SELECT max(activity) FROM sessions) + 1 WHERE id = ?1"
                ),
                [session_id],
            )
            .at(&self.path)?;
        if changed == 0 {
            return Err(StoreError::SessionNotFound {
                query: session_id.to_string(),
            });
        }
        Ok(())
    }

    fn insert_message(
        &self,
        tx: &Transaction<'_>,
        session_id: &str,
        seq: i64,
        message: &Message,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(message).map_err(|source| StoreError::EncodeMessage {
            session_id: session_id.to_string(),
            role: message.role(),
            source,
        })?;
        tx.execute(
            concat!(
                "INSERT INTO messages (session_id, seq, role, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ",
                now_sql!(),
                ")"
            ),
            params![session_id, seq, message.role(), body],
        )
        .at(&self.path)?;
        Ok(())
    }

    pub(crate) fn require_session(
        &self,
        connection: &Connection,
        session_id: &str,
    ) -> Result<(), StoreError> {
        let exists = connection
            .query_row("SELECT 1 FROM sessions WHERE id = ?1", [session_id], |_| {
                Ok(())
            })
            .optional()
            .at(&self.path)?;
        exists.ok_or_else(|| StoreError::SessionNotFound {
            query: session_id.to_string(),
        })
    }

    /// The session's messages with their sequence numbers, in order. A row that does
    /// not decode is an error naming the session and the row, never a panic.
    pub(crate) fn transcript(
        &self,
        connection: &Connection,
        session_id: &str,
    ) -> Result<Vec<(i64, Message)>, StoreError> {
        self.require_session(connection, session_id)?;
        let mut statement = connection
            .prepare_cached("SELECT seq, body FROM messages WHERE session_id = ?1 ORDER BY seq")
            .at(&self.path)?;
        let rows = statement
            .query_map([session_id], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .at(&self.path)?;
        rows.into_iter()
            .map(|(seq, body)| match serde_json::from_str::<Message>(&body) {
                Ok(message) => Ok((seq, message)),
                Err(source) => Err(StoreError::UndecodableMessage {
                    path: self.path.clone(),
                    session_id: session_id.to_string(),
                    seq,
                    source,
                }),
            })
            .collect()
    }
}

/// Creates the database file readable by its owner only (transcripts are private);
/// SQLite gives the `-wal` and `-shm` files the same permissions. An existing file
/// is left as it is.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::CreateDir {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(crate) fn insert_session(
    tx: &Transaction<'_>,
    id: &str,
    model: &str,
    workspace: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        concat!(
            "INSERT INTO sessions (id, model, workspace, created_at, updated_at, activity)
             VALUES (?1, ?2, ?3, ",
            now_sql!(),
            ", ",
            now_sql!(),
            ", coalesce((SELECT max(activity) FROM sessions), 0) + 1)"
        ),
        params![id, model, workspace],
    )?;
    Ok(())
}

pub(crate) fn session_by_id(
    connection: &Connection,
    id: &str,
) -> rusqlite::Result<Option<SessionInfo>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?1");
    connection
        .query_row(&sql, [id], SessionInfo::from_row)
        .optional()
}

fn last_seq(connection: &Connection, session_id: &str) -> rusqlite::Result<i64> {
    connection.query_row(
        "SELECT coalesce(max(seq), 0) FROM messages WHERE session_id = ?1",
        [session_id],
        |row| row.get(0),
    )
}

/// Moves every message after `after_seq` up by `count`, opening a gap for inserts.
/// Goes through negative numbers so no intermediate row collides with another.
fn shift_messages_after(
    tx: &Transaction<'_>,
    session_id: &str,
    after_seq: i64,
    count: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE messages SET seq = -seq WHERE session_id = ?1 AND seq > ?2",
        params![session_id, after_seq],
    )?;
    tx.execute(
        "UPDATE messages SET seq = -seq + ?2 WHERE session_id = ?1 AND seq < 0",
        params![session_id, count],
    )?;
    Ok(())
}

fn tokens_to_sql(tokens: u64) -> i64 {
    i64::try_from(tokens).unwrap_or(i64::MAX)
}

fn tokens_from_sql(tokens: i64) -> u64 {
    u64::try_from(tokens).unwrap_or(0)
}

/// Inserts one usage row for an existing session; returns the rows inserted (0 when the
/// session does not exist).
fn insert_usage(
    connection: &Connection,
    session_id: &str,
    model: &str,
    usage: &Usage,
    cost_usd: f64,
) -> rusqlite::Result<usize> {
    connection.execute(
        concat!(
            "INSERT INTO usage_records (session_id, model, input_tokens, output_tokens,
                 cached_tokens, cache_creation_tokens, cost_usd, created_at)
             SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ",
            now_sql!(),
            " FROM sessions WHERE id = ?1"
        ),
        params![
            session_id,
            model,
            tokens_to_sql(usage.input_tokens),
            tokens_to_sql(usage.output_tokens),
            tokens_to_sql(usage.cached_tokens),
            tokens_to_sql(usage.cache_creation_tokens),
            cost_usd,
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sessions with chosen ids, so prefix matching can be tested exactly
    /// (real UUID v7 ids created together share their leading characters).
    fn store_with_sessions(ids: &[&str]) -> Store {
        let store = Store::open_in_memory().unwrap();
        {
            let mut connection = store.connection();
            let tx = connection.transaction().unwrap();
            for id in ids {
                insert_session(&tx, id, "test:model", "/work").unwrap();
            }
            tx.commit().unwrap();
        }
        store
    }

    #[test]
    fn a_unique_prefix_finds_its_session() {
        let store = store_with_sessions(&["0199aaaa-1", "0199bbbb-2", "0200cccc-3"]);
        assert_eq!(store.session("0199a").unwrap().id, "0199aaaa-1");
        assert_eq!(store.session("0200").unwrap().id, "0200cccc-3");
        assert_eq!(store.session("0199BBBB-2").unwrap().id, "0199bbbb-2");
    }

    #[test]
    fn a_shared_prefix_is_ambiguous_and_lists_the_candidates() {
        let store = store_with_sessions(&["0199aaaa-1", "0199bbbb-2", "0200cccc-3"]);
        match store.session("0199") {
            Err(StoreError::AmbiguousSession { prefix, matches }) => {
                assert_eq!(prefix, "0199");
                assert_eq!(matches, vec!["0199aaaa-1", "0199bbbb-2"]);
            }
            other => panic!("expected an ambiguous prefix, got {other:?}"),
        }
    }

    #[test]
    fn prefix_characters_are_matched_literally() {
        let store = store_with_sessions(&["0199aaaa-1"]);
        let error = store.session("01%_").unwrap_err();
        assert!(
            matches!(error, StoreError::SessionNotFound { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_short_or_unknown_prefix_says_how_to_find_the_id() {
        let store = store_with_sessions(&["0199aaaa-1"]);
        let short = store.session("019").unwrap_err();
        assert!(
            matches!(short, StoreError::PrefixTooShort { .. }),
            "{short}"
        );
        assert!(short.to_string().contains("hearth sessions list"));
        let unknown = store.session("ffff").unwrap_err();
        assert!(matches!(unknown, StoreError::SessionNotFound { .. }));
        assert!(unknown.to_string().contains("hearth sessions list"));
    }

    #[test]
    fn shifting_opens_a_gap_without_collisions() {
        let store = store_with_sessions(&["s1"]);
        for text in ["a", "b", "c"] {
            store.append("s1", &Message::user(text)).unwrap();
        }
        let mut connection = store.connection();
        let tx = connection.transaction().unwrap();
        shift_messages_after(&tx, "s1", 1, 2).unwrap();
        let seqs: Vec<i64> = tx
            .prepare("SELECT seq FROM messages WHERE session_id = 's1' ORDER BY seq")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(seqs, vec![1, 4, 5]);
    }
}
