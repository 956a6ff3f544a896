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

/// Version 2. `items.workspace`: the workspace a file chunk belongs to (it is found
/// only there). File chunks were stored as the user's and without their workspace, so
/// they go, with their files' rows: the next index of each workspace writes them again
/// with provenance `file` and their workspace. Turns and notes keep theirs.
const FILE_SCOPE: &str = "
ALTER TABLE items ADD COLUMN workspace TEXT NOT NULL DEFAULT '';
DELETE FROM items_fts WHERE rowid IN (SELECT id FROM items WHERE kind = 'file');
DELETE FROM items WHERE kind = 'file';
DELETE FROM files;
";

const MIGRATIONS: &[&str] = &[ITEMS, FILE_SCOPE];

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
    fn a_version_1_database_opens_and_its_rows_get_their_true_provenance() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("memory.db");
        {
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(ITEMS).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            for (kind, provenance, session, text) in [
                ("note", "user", "", "The user likes figs."),
                ("turn", "agent", "s1", "I will remember the figs."),
                (
                    "file",
                    "user",
                    "/old/ws/memory/plan.md",
                    "Figs are planted in May.",
                ),
            ] {
                conn.execute(
                    "INSERT INTO items (kind, provenance, session, text, ts, created_at)
                     VALUES (?1, ?2, ?3, ?4, 0, 0)",
                    [kind, provenance, session, text],
                )
                .unwrap();
                conn.execute(
                    "INSERT INTO items_fts (rowid, speaker, body, context)
                     VALUES (last_insert_rowid(), '', ?1, '')",
                    [text],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO files (path, size, mtime) VALUES ('/old/ws/memory/plan.md', 1, 1)",
                [],
            )
            .unwrap();
        }
        let memory = crate::Memory::open(&db, None).unwrap();
        let items = memory.list(10).unwrap();
        let kept: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|i| (i.kind.as_str(), i.provenance.as_str(), i.workspace.as_str()))
            .collect();
        // The file chunk, once the user's and unscoped, is gone until its workspace
        // is indexed again; the note and the turn keep their provenance.
        assert_eq!(kept, [("turn", "agent", ""), ("note", "user", "")]);
        let hits = memory
            .search("figs planted", &crate::SearchOptions::default())
            .unwrap();
        assert!(hits.iter().all(|h| h.item.kind != crate::ItemKind::File));
        drop(memory);
        let conn = Connection::open(&db).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM files"), 0);
        assert_eq!(count("SELECT count(*) FROM items_fts"), 2);
        assert_eq!(
            count("SELECT user_version FROM pragma_user_version"),
            SCHEMA_VERSION
        );
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
