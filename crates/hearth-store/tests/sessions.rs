//! Sessions, usage and the database file itself: creation, lookup, listing order,
//! timestamps, token sums, WAL mode and what a broken file looks like.

use std::path::Path;

use hearth_protocol::{Message, Usage};
use hearth_store::{SessionInfo, Store, StoreError};

/// `2026-11-22T03:20:15.123Z`: RFC 3339, UTC, milliseconds.
fn assert_rfc3339_millis(time: &str) {
    let bytes = time.as_bytes();
    assert_eq!(bytes.len(), 24, "{time}");
    for (index, byte) in bytes.iter().enumerate() {
        let expected_separator = match index {
            4 | 7 => Some(b'-'),
            10 => Some(b'T'),
            13 | 16 => Some(b':'),
            19 => Some(b'.'),
            23 => Some(b'Z'),
            _ => None,
        };
        match expected_separator {
            Some(separator) => assert_eq!(*byte, separator, "{time}"),
            None => assert!(byte.is_ascii_digit(), "{time}"),
        }
    }
}

#[test]
fn store_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn a_new_session_has_a_uuid_v7_and_timestamps() {
    let store = Store::open_in_memory().unwrap();
    let session = store
        .create_session("anthropic:claude-test", Path::new("/home/me/project"))
        .unwrap();
    let uuid = session.id.parse::<uuid::Uuid>().unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(session.model, "anthropic:claude-test");
    assert_eq!(session.workspace, "/home/me/project");
    assert_eq!(session.title, "");
    assert_eq!(session.message_count, 0);
    assert_rfc3339_millis(&session.created_at);
    assert_eq!(session.updated_at, session.created_at);

    store.append(&session.id, &Message::user("hello")).unwrap();
    let updated = store.session(&session.id).unwrap();
    assert_rfc3339_millis(&updated.updated_at);
    assert!(updated.updated_at >= updated.created_at);
}

#[test]
fn session_info_serialises_with_its_field_names() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    let json = serde_json::to_value(&session).unwrap();
    for field in [
        "id",
        "title",
        "model",
        "workspace",
        "created_at",
        "updated_at",
        "message_count",
    ] {
        assert!(json.get(field).is_some(), "missing {field} in {json}");
    }
    let back: SessionInfo = serde_json::from_value(json).unwrap();
    assert_eq!(back, session);
}

#[test]
fn a_session_is_found_by_its_full_id_or_a_unique_prefix() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    assert_eq!(store.session(&session.id).unwrap(), session);
    assert_eq!(store.session(&session.id[..6]).unwrap(), session);
    assert_eq!(store.session(&session.id.to_uppercase()).unwrap(), session);
}

#[test]
fn lookup_errors_say_what_to_run() {
    let store = Store::open_in_memory().unwrap();
    let first = store.create_session("m", Path::new("/w")).unwrap();
    let second = store.create_session("m", Path::new("/w")).unwrap();

    let not_found = store.session("ffffffff").unwrap_err();
    assert!(matches!(not_found, StoreError::SessionNotFound { .. }));
    assert!(not_found.to_string().contains("hearth sessions list"));

    let too_short = store.session("01").unwrap_err();
    assert!(matches!(too_short, StoreError::PrefixTooShort { .. }));

    // Two UUID v7 ids share their leading (timestamp) characters.
    let shared: String = first
        .id
        .chars()
        .zip(second.id.chars())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    if shared.len() >= 4 {
        let ambiguous = store.session(&shared).unwrap_err();
        assert!(
            matches!(ambiguous, StoreError::AmbiguousSession { ref matches, .. } if matches.len() == 2),
            "{ambiguous}"
        );
        assert!(ambiguous.to_string().contains("hearth sessions list"));
    }
}

#[test]
fn sessions_are_listed_most_recently_updated_first() {
    let store = Store::open_in_memory().unwrap();
    let older = store.create_session("m", Path::new("/w")).unwrap();
    let newer = store.create_session("m", Path::new("/w")).unwrap();
    let ids = |list: Vec<SessionInfo>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();

    assert_eq!(
        ids(store.list_sessions().unwrap()),
        [newer.id.clone(), older.id.clone()]
    );
    store
        .append(&older.id, &Message::user("back to this"))
        .unwrap();
    assert_eq!(
        ids(store.list_sessions().unwrap()),
        [older.id.clone(), newer.id.clone()]
    );
    let listed = store.list_sessions().unwrap();
    assert_eq!(listed[0].message_count, 1);
    assert_eq!(listed[0].title, "back to this");
}

#[test]
fn usage_is_summed_per_session() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    let other = store.create_session("m", Path::new("/w")).unwrap();
    assert_eq!(store.session_usage(&session.id).unwrap(), Usage::default());

    let calls = [
        Usage {
            input_tokens: 1200,
            output_tokens: 80,
            cached_tokens: 1000,
            cache_creation_tokens: 0,
        },
        Usage {
            input_tokens: 1500,
            output_tokens: 20,
            cached_tokens: 0,
            cache_creation_tokens: 1400,
        },
    ];
    for usage in &calls {
        store
            .record_usage(&session.id, "openai:gpt-test", usage)
            .unwrap();
    }
    store
        .record_usage(&other.id, "local:tiny", &calls[0])
        .unwrap();
    assert_eq!(
        store.session_usage(&session.id).unwrap(),
        Usage {
            input_tokens: 2700,
            output_tokens: 100,
            cached_tokens: 1000,
            cache_creation_tokens: 1400,
        }
    );
    let unknown = store.record_usage("nope", "m", &calls[0]);
    assert!(matches!(unknown, Err(StoreError::SessionNotFound { .. })));
    assert!(matches!(
        store.session_usage("nope"),
        Err(StoreError::SessionNotFound { .. })
    ));
}

#[test]
fn the_file_is_in_wal_mode_with_a_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.path(), path);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert!(version >= 1);
}

#[cfg(unix)]
#[test]
fn a_new_database_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn a_file_that_is_not_a_database_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(
        &path,
        "this is not a database, it is a grocery list\n".repeat(200),
    )
    .unwrap();
    let error = match Store::open(&path) {
        Err(error) => error,
        Ok(_) => panic!("opened a file that is not a database"),
    };
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn an_unusable_parent_directory_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("state.db");
    let error = match Store::open(&path) {
        Err(error) => error,
        Ok(_) => panic!("opened a database under a file"),
    };
    let message = error.to_string();
    assert!(message.contains("not-a-dir"), "{message}");
    assert!(message.contains("HEARTH_HOME"), "{message}");
}

#[test]
fn approval_decisions_are_recorded_per_session_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    let session = store.create_session("openai:m", dir.path()).unwrap();
    store
        .record_approval(
            &session.id,
            "rm -rf build",
            "a command OUTSIDE the sandbox",
            "denied: the user declined",
        )
        .unwrap();
    store
        .record_approval(&session.id, "make", "a command (sandboxed)", "approved")
        .unwrap();
    let records = store.approvals(&session.id).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].command, "rm -rf build");
    assert_eq!(records[1].decision, "approved");
    assert!(store
        .record_approval("no-such-session", "x", "y", "z")
        .is_err());
}

#[test]
fn deleting_a_session_removes_its_transcript_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    let gone = store.create_session("openai:m", dir.path()).unwrap();
    let kept = store.create_session("openai:m", dir.path()).unwrap();
    store.append(&gone.id, &Message::user("forget me")).unwrap();
    store
        .record_approval(&gone.id, "make", "a command (sandboxed)", "approved")
        .unwrap();
    store.delete_session(&gone.id).unwrap();
    assert!(matches!(
        store.session(&gone.id),
        Err(StoreError::SessionNotFound { .. })
    ));
    assert!(!store.messages(&gone.id).is_ok_and(|m| !m.is_empty()));
    assert!(!store.approvals(&gone.id).is_ok_and(|a| !a.is_empty()));
    assert_eq!(store.list_sessions().unwrap()[0].id, kept.id);
    assert!(matches!(
        store.delete_session(&gone.id),
        Err(StoreError::SessionNotFound { .. })
    ));
}
