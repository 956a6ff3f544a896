//! Connection settings and schema migrations of the state database.
//!
//! Migrations are numbered by their position in [`MIGRATIONS`]; `PRAGMA user_version`
//! records how many have been applied. Each runs in its own write transaction that also
//! bumps `user_version`, so a crash mid-migration leaves the previous version intact.
//! To grow the schema (jobs, approvals, the cost ledger), append a new entry — never
//! edit one that has shipped.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{AtDatabase, StoreError};

/// How long a write waits for another process holding the database lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1: sessions, their transcripts and per-call token usage.
///
/// `activity` is a counter bumped on every write to a session, so "most recently
/// updated first" is a total order even when two writes share a millisecond.
const SESSIONS_AND_TRANSCRIPTS: &str = "
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    title      TEXT NOT NULL DEFAULT '',
    model      TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    activity   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_activity ON sessions (activity);

CREATE TABLE messages (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    role       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE usage_records (
    id            INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    model         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX usage_records_by_session ON usage_records (session_id);
";

/// Version 2: every approval question and the user's answer, so decisions can be audited.
const APPROVALS: &str = "
CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    command    TEXT NOT NULL,
    reason     TEXT NOT NULL,
    decision   TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX approvals_by_session ON approvals (session_id);
";

/// Version 3: input tokens each call wrote to the provider's prompt cache (Anthropic's
/// `cache_creation_input_tokens`); rows from before it count 0.
const CACHE_CREATION_TOKENS: &str = "
ALTER TABLE usage_records ADD COLUMN cache_creation_tokens INTEGER NOT NULL DEFAULT 0;
";

/// Version 4: what each call cost in USD at the model's prices when it was made (the
/// cost ledger); rows from before it count 0. `created_at` orders the ledger by day.
const CALL_COST: &str = "
ALTER TABLE usage_records ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
CREATE INDEX usage_records_by_time ON usage_records (created_at);
";

/// Version 5: scheduled jobs and their runs (owned by the scheduler work, issue 17;
/// replace this placeholder with the real tables until it ships).
const JOBS: &str = "
CREATE TABLE jobs (
    name TEXT PRIMARY KEY NOT NULL
) STRICT;
";

/// Version 6: compaction checkpoints and sub-agent sessions (owned by the context
/// economy work, issue 19; replace this placeholder with the real tables until it ships).
const CHECKPOINTS: &str = "
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY
) STRICT;
";

/// Version 7: chat channels: their durable inbox and cursors, admitted senders and
/// pairing codes (owned by the channels work, issue 18; replace this placeholder with
/// the real tables until it ships).
const CHANNELS: &str = "
CREATE TABLE channel_senders (
    id INTEGER PRIMARY KEY
) STRICT;
";

/// Every migration, in order. Index `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    SESSIONS_AND_TRANSCRIPTS,
    APPROVALS,
    CACHE_CREATION_TOKENS,
    CALL_COST,
    JOBS,
    CHECKPOINTS,
    CHANNELS,
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Per-connection settings: wait for other writers, write-ahead log, fsync on every
/// commit (so an acknowledged write survives `kill -9` and power loss) and enforced
/// foreign keys.
pub(crate) fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
    // An in-memory database answers "memory" and keeps it; that is fine.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .at(path)?;
    conn.pragma_update(None, "synchronous", "FULL").at(path)?;
    conn.pragma_update(None, "foreign_keys", true).at(path)?;
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`]; refuses a database from a newer hearth.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes
        // opening a fresh database at once cannot both apply the same migration.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .at(path)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(migration) = usize::try_from(version)
            .ok()
            .and_then(|index| MIGRATIONS.get(index))
        else {
            return Ok(());
        };
        tx.execute_batch(migration).at(path)?;
        tx.pragma_update(None, "user_version", version + 1)
            .at(path)?;
        tx.commit().at(path)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let path = Path::new(":memory:");
        let mut conn = Connection::open_in_memory().unwrap();
        configure(&conn, path).unwrap();
        migrate(&mut conn, path).unwrap();
        migrate(&mut conn, path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn refuses_a_database_from_a_newer_hearth() {
        let path = Path::new(":memory:");
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = migrate(&mut conn, path).unwrap_err();
        assert!(matches!(error, StoreError::SchemaTooNew { .. }), "{error}");
        assert!(error.to_string().contains("upgrade hearth"));
    }
}
