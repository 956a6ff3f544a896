//! A database from the first release (schema `user_version` 1, messages in the JSON of
//! that time) opens with today's `Store`, is migrated forward in place and reads back
//! the same transcript, usage and sessions. The old schema is copied here as SQL text
//! from the git history of `src/schema.rs` (commit 87774e3): a shipped migration is
//! never edited, so this is what real users' `state.db` files hold.

use std::path::Path;

use hearth_protocol::{Message, ToolCall, ToolResult, Usage};
use hearth_store::Store;

/// `SESSIONS_AND_TRANSCRIPTS` as it shipped in schema version 1.
const VERSION_1_SCHEMA: &str = "
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

const SESSION: &str = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

/// Rows as version 1 stored them: (role, body), the body in that release's JSON (no
/// `provider_stop`, no `provider_state`; empty text and `is_error: false` left out).
const VERSION_1_ROWS: &[(&str, &str)] = &[
    (
        "user",
        r#"{"role":"user","text":"Read main.rs — and say «hi» 👋\nsecond line"}"#,
    ),
    (
        "assistant",
        r#"{"role":"assistant","tool_calls":[{"id":"call_1","name":"read_file","arguments":"{\"path\":\"src/main.rs\"}"},{"id":"call_2","name":"shell","arguments":"{not json"}]}"#,
    ),
    (
        "tool",
        r#"{"role":"tool","call_id":"call_1","name":"read_file","content":"fn main() {}\n"}"#,
    ),
    (
        "tool",
        r#"{"role":"tool","call_id":"call_2","name":"shell","content":"arguments are not valid JSON","is_error":true}"#,
    ),
    (
        "assistant",
        r#"{"role":"assistant","text":"It prints nothing."}"#,
    ),
];

/// The same transcript as today's types.
fn expected_messages() -> Vec<Message> {
    let read = ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"src/main.rs"}"#.into(),
    };
    let broken = ToolCall {
        id: "call_2".into(),
        name: "shell".into(),
        arguments: "{not json".into(),
    };
    vec![
        Message::user("Read main.rs — and say «hi» 👋\nsecond line"),
        Message::assistant("", vec![read.clone(), broken.clone()]),
        Message::Tool(ToolResult::ok(&read, "fn main() {}\n")),
        Message::Tool(ToolResult::error(&broken, "arguments are not valid JSON")),
        Message::assistant("It prints nothing.", vec![]),
    ]
}

/// Writes a version-1 `state.db` at `path` the way that release did.
fn write_version_1_database(path: &Path) {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .unwrap();
    connection.execute_batch(VERSION_1_SCHEMA).unwrap();
    connection
        .execute(
            "INSERT INTO sessions (id, title, model, workspace, created_at, updated_at, activity)
             VALUES (?1, 'Read main.rs', 'openai:gpt-test', '/work', ?2, ?2, 1)",
            rusqlite::params![SESSION, "2026-11-22T03:20:15.123Z"],
        )
        .unwrap();
    for (index, (role, body)) in VERSION_1_ROWS.iter().enumerate() {
        connection
            .execute(
                "INSERT INTO messages (session_id, seq, role, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, '2026-11-22T03:20:15.123Z')",
                rusqlite::params![SESSION, index as i64 + 1, role, body],
            )
            .unwrap();
    }
    connection
        .execute(
            "INSERT INTO usage_records (session_id, model, input_tokens, output_tokens,
                 cached_tokens, created_at)
             VALUES (?1, 'openai:gpt-test', 120, 30, 100, '2026-11-22T03:20:15.123Z')",
            [SESSION],
        )
        .unwrap();
    connection.pragma_update(None, "user_version", 1).unwrap();
}

fn user_version(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[test]
fn a_version_1_database_migrates_and_reads_back_the_same_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    write_version_1_database(&path);
    assert_eq!(user_version(&path), 1);

    let store = Store::open(&path).unwrap();
    assert!(
        user_version(&path) > 1,
        "opening migrates the schema forward"
    );
    assert_eq!(store.messages(SESSION).unwrap(), expected_messages());
    let session = store.session(SESSION).unwrap();
    assert_eq!(session.title, "Read main.rs");
    assert_eq!(session.model, "openai:gpt-test");
    assert_eq!(session.message_count, VERSION_1_ROWS.len() as i64);
    assert_eq!(
        store.session_usage(SESSION).unwrap(),
        Usage {
            input_tokens: 120,
            output_tokens: 30,
            cached_tokens: 100,
            cache_creation_tokens: 0,
        }
    );

    // The migrated database takes today's writes after the old rows.
    let next = Message::user("and now?");
    assert_eq!(
        store.append(SESSION, &next).unwrap(),
        VERSION_1_ROWS.len() as i64 + 1
    );
    drop(store);

    // Reopening does not migrate again and still reads everything.
    let version = user_version(&path);
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), version);
    let mut expected = expected_messages();
    expected.push(next);
    assert_eq!(store.messages(SESSION).unwrap(), expected);
}

#[test]
fn every_version_1_row_still_serialises_to_the_bytes_it_was_stored_as() {
    // Today's writer must not change the stored JSON of what version 1 could hold:
    // rows written before and after an upgrade then look the same to every reader.
    for ((_, body), message) in VERSION_1_ROWS.iter().zip(expected_messages()) {
        assert_eq!(serde_json::to_string(&message).unwrap(), *body);
    }
}
