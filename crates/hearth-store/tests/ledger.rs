//! The cost ledger: a call's cost is stored with its answer, summed per session and per
//! UTC day, listed for `hearth usage`; a version-3 database (no cost column) migrates
//! and its calls count 0 USD.

use hearth_protocol::{Message, Usage};
use hearth_store::Store;

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: 0,
        cache_creation_tokens: 0,
    }
}

#[test]
fn each_calls_cost_is_stored_with_its_answer_and_summed() {
    let store = Store::open_in_memory().unwrap();
    let one = store
        .create_session("openai:gpt-test", std::path::Path::new("/w"))
        .unwrap();
    let two = store
        .create_session("local:tiny", std::path::Path::new("/w"))
        .unwrap();
    let answer = Message::assistant("ok", vec![]);
    store
        .append_with_usage(&one.id, &answer, "openai:gpt-test", &usage(1000, 10), 0.25)
        .unwrap();
    store
        .append_with_usage(&one.id, &answer, "openai:gpt-test", &usage(2000, 20), 0.5)
        .unwrap();
    store
        .append_with_usage(&two.id, &answer, "local:tiny", &usage(300, 3), 0.0)
        .unwrap();
    assert_eq!(store.session_cost_usd(&one.id).unwrap(), 0.75);
    assert_eq!(store.session_cost_usd(&two.id).unwrap(), 0.0);
    assert_eq!(store.today_cost_usd().unwrap(), 0.75);
    let calls = store.calls(None).unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].usage, usage(2000, 20));
    assert_eq!(calls[2].model, "local:tiny");
    assert!(store.calls(Some("2999-01-01")).unwrap().is_empty());
    assert_eq!(store.calls(Some("2000-01-01")).unwrap().len(), 3);
}

#[test]
fn a_version_3_database_migrates_and_its_calls_cost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = Store::open(&path).unwrap();
        let session = store
            .create_session("openai:gpt-test", std::path::Path::new("/w"))
            .unwrap();
        store
            .append_with_usage(
                &session.id,
                &Message::assistant("old", vec![]),
                "openai:gpt-test",
                &usage(100, 5),
                0.0,
            )
            .unwrap();
    }
    // Take the file back to version 3 as it shipped: no cost column, no time index, and
    // none of the tables later versions added. (A later migration that alters a version-3
    // table must undo that here too.)
    let connection = rusqlite::Connection::open(&path).unwrap();
    let later_tables: Vec<String> = connection
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT IN ('sessions', 'messages', 'usage_records', 'approvals')
             AND name NOT LIKE 'sqlite_%'",
        )
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in later_tables {
        connection
            .execute_batch(&format!("DROP TABLE \"{table}\";"))
            .unwrap();
    }
    connection
        .execute_batch(
            "DROP INDEX usage_records_by_time;
             ALTER TABLE usage_records DROP COLUMN cost_usd;
             DROP INDEX sessions_by_parent;
             ALTER TABLE sessions DROP COLUMN parent_id;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    drop(connection);

    let store = Store::open(&path).unwrap();
    let calls = store.calls(None).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].usage, usage(100, 5));
    assert_eq!(calls[0].cost_usd, 0.0);
    let session = calls[0].session_id.clone();
    store
        .append_with_usage(
            &session,
            &Message::assistant("new", vec![]),
            "openai:gpt-test",
            &usage(100, 5),
            0.125,
        )
        .unwrap();
    assert_eq!(store.session_cost_usd(&session).unwrap(), 0.125);
}
