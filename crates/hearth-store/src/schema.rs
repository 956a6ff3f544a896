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

/// Version 5: scheduled jobs and their runs (issue 17).
///
/// `jobs` holds what the user asked for (the schedule as written: `every` + duration and
/// anchor, `cron` + expression and zone, `at` + RFC 3339) and the scheduler's cursor:
/// every due time at or before `cursor` has been claimed or skipped. Times are UTC text
/// with milliseconds (`2026-12-05T08:00:00.000Z`), so they sort as text.
/// `job_runs` has one row per claimed due time; UNIQUE (job_id, due) is what makes a
/// due time run at most once across processes and restarts. `job_sessions` maps a
/// `--session NAME` to the session created on its first run. `jobs_version` is bumped
/// by every change to a job's definition, so a running gateway notices a change made by
/// another process with one cheap read.
const JOBS: &str = "
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    schedule_kind TEXT NOT NULL CHECK (schedule_kind IN ('every', 'cron', 'at')),
    schedule_expr TEXT NOT NULL,
    zone          TEXT,
    anchor        TEXT NOT NULL,
    prompt        TEXT NOT NULL,
    session_name  TEXT,
    deliver       TEXT,
    catch_up      TEXT NOT NULL DEFAULT 'once' CHECK (catch_up IN ('once', 'skip')),
    origin        TEXT NOT NULL DEFAULT 'cli' CHECK (origin IN ('cli', 'model', 'api')),
    enabled       INTEGER NOT NULL DEFAULT 1,
    cursor        TEXT,
    run_requested TEXT,
    created_at    TEXT NOT NULL
) STRICT;

CREATE TABLE job_runs (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    due               TEXT NOT NULL,
    trigger           TEXT NOT NULL CHECK (trigger IN ('schedule', 'catch_up', 'manual')),
    outcome           TEXT NOT NULL CHECK (outcome IN
                        ('claimed', 'running', 'ok', 'error', 'interrupted', 'skipped', 'budget')),
    claimed_at        TEXT NOT NULL,
    started_at        TEXT,
    ended_at          TEXT,
    session_id        TEXT,
    input_tokens      INTEGER NOT NULL DEFAULT 0,
    output_tokens     INTEGER NOT NULL DEFAULT 0,
    detail            TEXT NOT NULL DEFAULT '',
    delivery          TEXT NOT NULL DEFAULT 'none' CHECK (delivery IN
                        ('none', 'pending', 'delivered', 'failed')),
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    delivery_error    TEXT NOT NULL DEFAULT '',
    UNIQUE (job_id, due)
) STRICT;
CREATE INDEX job_runs_by_outcome ON job_runs (outcome);

CREATE TABLE job_sessions (
    name       TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL
) STRICT;

CREATE TABLE jobs_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO jobs_version (id, version) VALUES (1, 0);
";

/// Version 6: compaction checkpoints and sub-agent sessions (issue 19).
///
/// A checkpoint is a summary of a session's transcript up to message `up_to_seq`: later
/// requests carry the summary instead of those messages (which stay in `messages`).
/// `tokens_before` / `tokens_after` are the estimated input tokens of the request
/// before and after the summary replaced them. `parent_id` links a sub-agent's session
/// to the session that spawned it (no foreign key: a child outlives nothing, and the
/// column must stay droppable by the migration tests).
const CHECKPOINTS: &str = "
CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    up_to_seq     INTEGER NOT NULL,
    summary       TEXT NOT NULL,
    model         TEXT NOT NULL,
    tokens_before INTEGER NOT NULL,
    tokens_after  INTEGER NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX checkpoints_by_session ON checkpoints (session_id, up_to_seq);
ALTER TABLE sessions ADD COLUMN parent_id TEXT;
CREATE INDEX sessions_by_parent ON sessions (parent_id);
";

/// Version 7: chat channels (issue 18). `channel_state`: per channel, the cursor of
/// what the server has delivered (Telegram's next `getUpdates` offset, Matrix's
/// `next_batch` sync token, IMAP's `UIDVALIDITY:UID`), stored in the same transaction as
/// the messages it covers, and the connection state the gateway last saw.
/// `channel_inbox`: every message received, `received` → `started` → `answered` (or
/// `refused` for a stranger's, `failed`), unique per server id so a redelivery is not
/// a second message. `channel_sessions`: which session a chat (and thread) talks to.
/// `channel_senders`: admitted senders. `channel_pairing`: one pairing code per
/// stranger with its expiry and when a code was last sent (the rate limit).
/// `channel_outbox`: replies, chunked to the channel's limit, with attempts and status.
const CHANNELS: &str = "
CREATE TABLE channel_state (
    channel    TEXT PRIMARY KEY NOT NULL,
    cursor     TEXT,
    connection TEXT NOT NULL DEFAULT 'unknown',
    detail     TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE channel_inbox (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL,
    body        TEXT NOT NULL,
    state       TEXT NOT NULL,
    received_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (channel, external_id)
) STRICT;
CREATE INDEX channel_inbox_by_state ON channel_inbox (channel, state);

CREATE TABLE channel_sessions (
    channel    TEXT NOT NULL,
    chat       TEXT NOT NULL,
    thread     TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (channel, chat, thread)
) STRICT, WITHOUT ROWID;

CREATE TABLE channel_senders (
    channel      TEXT NOT NULL,
    sender       TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    admitted_at  TEXT NOT NULL,
    PRIMARY KEY (channel, sender)
) STRICT, WITHOUT ROWID;

CREATE TABLE channel_pairing (
    code         TEXT PRIMARY KEY NOT NULL,
    channel      TEXT NOT NULL,
    sender       TEXT NOT NULL,
    chat         TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL,
    last_sent_at INTEGER NOT NULL,
    UNIQUE (channel, sender)
) STRICT;

CREATE TABLE channel_outbox (
    id          INTEGER PRIMARY KEY,
    channel     TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL DEFAULT '',
    inbox_id    INTEGER REFERENCES channel_inbox (id) ON DELETE SET NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    external_id TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX channel_outbox_by_status ON channel_outbox (channel, status);
";

/// Version 8: heartbeats (issue 17). `heartbeat_ticks`: one row per tick, what it did
/// (`quiet`: no news, no model call; `woke`: the model ran; `failed`: the woken turn
/// failed), which probes' output changed and which asked for attention (JSON arrays of
/// names), the session a woken tick ran in and its tokens. `heartbeat_probes`: per
/// probe, the SHA-256 of its output at the last tick that took it in, so a change is
/// noticed across restarts.
const HEARTBEAT: &str = "
CREATE TABLE heartbeat_ticks (
    id            INTEGER PRIMARY KEY,
    started_at    TEXT NOT NULL,
    ended_at      TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('quiet', 'woke', 'failed')),
    changed       TEXT NOT NULL DEFAULT '[]',
    attention     TEXT NOT NULL DEFAULT '[]',
    session_id    TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    detail        TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX heartbeat_ticks_by_time ON heartbeat_ticks (started_at);

CREATE TABLE heartbeat_probes (
    name        TEXT PRIMARY KEY NOT NULL,
    output_hash TEXT NOT NULL,
    updated_at  TEXT NOT NULL
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
    HEARTBEAT,
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
