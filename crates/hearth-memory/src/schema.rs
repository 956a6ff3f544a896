//! Connection settings and schema migrations of the memory database (`memory.db`).
//!
//! Migrations are numbered by their position in [`MIGRATIONS`]; `PRAGMA user_version`
//! records how many have been applied. Append new ones; never edit one that shipped.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{AtDatabase, MemoryError};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1. `items` holds every memory (a captured turn, a note, a chunk of a
/// markdown file) with provenance and time; `items_fts` its words (rowid = item id);
/// `vectors` its embeddings (view 0: the item's own text; other views are free for
/// later use); `embedded = 0` marks items the ingest worker has yet to embed.
const ITEMS: &str = "
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    provenance TEXT NOT NULL,
    session    TEXT NOT NULL DEFAULT '',
    seq        INTEGER NOT NULL DEFAULT 0,
    speaker    TEXT NOT NULL DEFAULT '',
    text       TEXT NOT NULL,
    context    TEXT NOT NULL DEFAULT '',
    tags       TEXT NOT NULL DEFAULT '',
    ts         INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    embedded   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX items_by_session ON items (session, seq);
CREATE INDEX items_pending ON items (id) WHERE embedded = 0;

CREATE VIRTUAL TABLE items_fts USING fts5(
    speaker, body, context,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TABLE vectors (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    view    INTEGER NOT NULL,
    vec     BLOB NOT NULL,
    PRIMARY KEY (item_id, view)
) STRICT, WITHOUT ROWID;

CREATE TABLE files (
    path  TEXT PRIMARY KEY NOT NULL,
    size  INTEGER NOT NULL,
    mtime INTEGER NOT NULL
) STRICT;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
";

const MIGRATIONS: &[&str] = &[ITEMS];

pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Waits for other writers, WAL, fsync on every commit (an acknowledged capture
/// survives `kill -9`), enforced foreign keys.
pub(crate) fn configure(conn: &Connection, path: &Path) -> Result<(), MemoryError> {
    conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .at(path)?;
    conn.pragma_update(None, "synchronous", "FULL").at(path)?;
    conn.pragma_update(None, "foreign_keys", true).at(path)?;
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`]; refuses a database from a newer hearth.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), MemoryError> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .at(path)?;
        if version > SCHEMA_VERSION {
            return Err(MemoryError::SchemaTooNew {
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
    fn migrating_twice_is_a_no_op_and_fts5_is_there() {
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
    fn refuses_a_newer_schema() {
        let path = Path::new(":memory:");
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = migrate(&mut conn, path).unwrap_err();
        assert!(error.to_string().contains("upgrade hearth"), "{error}");
    }
}
