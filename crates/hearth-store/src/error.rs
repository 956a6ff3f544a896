//! Errors of the state database. Each one names the file or session, says what went
//! wrong and what the user can do about it.

use std::path::{Path, PathBuf};

use rusqlite::ffi::ErrorCode;

/// Everything [`crate::Store`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot create the directory {} for the state database: {source}; \
         create it yourself or point HEARTH_HOME at a writable directory",
        .path.display()
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the state database {} is corrupt or not a SQLite database ({source}); \
         move it aside (add `.broken` to its name) and hearth will start a fresh one",
        .path.display()
    )]
    Corrupt {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the state database {} is locked by another process ({source}); \
         wait for the other hearth process to finish (or stop it) and retry",
        .path.display()
    )]
    Locked {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the disk holding the state database {} is full ({source}); \
         free some space and retry — the last change was not recorded",
        .path.display()
    )]
    DiskFull {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the state database {} cannot be opened or written ({source}); check the permissions \
         of the file, its -wal and -shm siblings and its directory, or point HEARTH_HOME elsewhere",
        .path.display()
    )]
    Unwritable {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error("the state database {} failed: {source}", .path.display())]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the state database {} has schema version {found}, newer than this hearth understands \
         (up to {supported}); upgrade hearth or point HEARTH_HOME elsewhere",
        .path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("no session matches '{query}'; run `hearth sessions list` to see the session ids")]
    SessionNotFound { query: String },

    #[error(
        "'{prefix}' matches {} sessions ({}); give more characters of the id — \
         `hearth sessions list` shows them",
        .matches.len(),
        preview_ids(.matches)
    )]
    AmbiguousSession {
        prefix: String,
        matches: Vec<String>,
    },

    #[error(
        "'{prefix}' is too short to pick a session; give at least {min} characters of the id \
         (`hearth sessions list` shows them)"
    )]
    PrefixTooShort { prefix: String, min: usize },

    #[error(
        "message {seq} of session {session_id} in {} cannot be decoded: {source}; \
         it may come from a newer hearth or be damaged",
        .path.display()
    )]
    UndecodableMessage {
        path: PathBuf,
        session_id: String,
        seq: i64,
        source: serde_json::Error,
    },

    #[error(
        "cannot start the thread that writes the state database {}: {source}; \
         the system is out of threads or memory — close other programs and retry",
        .path.display()
    )]
    StartThread {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the thread writing the state database {} has stopped, so the last change may not \
         be recorded; restart hearth and resume the session (--resume repairs it)",
        .path.display()
    )]
    ThreadStopped { path: PathBuf },

    #[error("no scheduled job is called '{name}'; `hearth schedule list` shows the jobs")]
    JobNotFound { name: String },

    #[error(
        "a scheduled job called '{name}' exists already; pick another name or remove it \
         first (`hearth schedule rm {name}`)"
    )]
    JobExists { name: String },

    #[error("cannot encode a {role} message for session {session_id}: {source}")]
    EncodeMessage {
        session_id: String,
        role: &'static str,
        source: serde_json::Error,
    },
}

/// The first few ids of an ambiguous match, for the error message.
fn preview_ids(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut preview = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        preview.push_str(", …");
    }
    preview
}

/// Turns a SQLite error on the database at `path` into the [`StoreError`] that tells
/// the user what to do about it.
pub(crate) fn database_error(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Corrupt { path, source }
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path, source }
        }
        Some(ErrorCode::DiskFull) => StoreError::DiskFull { path, source },
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied | ErrorCode::CannotOpen) => {
            StoreError::Unwritable { path, source }
        }
        _ => StoreError::Database { path, source },
    }
}

/// Attaches the database path to a SQLite result: `conn.execute(..).at(path)?`.
pub(crate) trait AtDatabase<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> AtDatabase<T> for Result<T, rusqlite::Error> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| database_error(path, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn classifies_the_errors_a_user_can_act_on() {
        let path = Path::new("/home/me/.hearth/state.db");
        let corrupt = database_error(path, sqlite_failure(rusqlite::ffi::SQLITE_CORRUPT));
        assert!(matches!(corrupt, StoreError::Corrupt { .. }));
        let message = corrupt.to_string();
        assert!(message.contains("/home/me/.hearth/state.db"), "{message}");
        assert!(message.contains("move it aside"), "{message}");

        let busy = database_error(path, sqlite_failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(matches!(busy, StoreError::Locked { .. }));
        let full = database_error(path, sqlite_failure(rusqlite::ffi::SQLITE_FULL));
        assert!(matches!(full, StoreError::DiskFull { .. }));
        assert!(full.to_string().contains("free some space"));
        let readonly = database_error(path, sqlite_failure(rusqlite::ffi::SQLITE_READONLY));
        assert!(matches!(readonly, StoreError::Unwritable { .. }));
        let other = database_error(path, sqlite_failure(rusqlite::ffi::SQLITE_MISMATCH));
        assert!(matches!(other, StoreError::Database { .. }));
    }

    #[test]
    fn session_errors_point_at_sessions_list() {
        let not_found = StoreError::SessionNotFound {
            query: "abcd".into(),
        };
        assert!(not_found.to_string().contains("hearth sessions list"));
        let ambiguous = StoreError::AmbiguousSession {
            prefix: "0199".into(),
            matches: vec!["0199a".into(), "0199b".into()],
        };
        let message = ambiguous.to_string();
        assert!(
            message.contains("matches 2 sessions (0199a, 0199b)"),
            "{message}"
        );
        assert!(message.contains("hearth sessions list"), "{message}");

        let many = StoreError::AmbiguousSession {
            prefix: "0199".into(),
            matches: (0..8).map(|n| format!("0199-{n}")).collect(),
        };
        let message = many.to_string();
        assert!(message.contains("matches 8 sessions"), "{message}");
        assert!(message.contains("0199-4, …)"), "{message}");
        assert!(!message.contains("0199-5"), "{message}");
    }
}
