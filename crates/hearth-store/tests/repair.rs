//! Repair: a session stopped mid-turn gets exactly its missing tool results, in call
//! order, in the right place, once.

use std::path::Path;

use hearth_protocol::{Message, ToolCall, ToolResult};
use hearth_store::{Store, INTERRUPTED_TOOL_RESULT};

fn call(id: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: format!("tool_{id}"),
        arguments: "{}".into(),
    }
}

fn interrupted(id: &str) -> ToolResult {
    ToolResult::error(&call(id), INTERRUPTED_TOOL_RESULT)
}

fn session_with(store: &Store, messages: &[Message]) -> String {
    let session = store.create_session("m", Path::new("/w")).unwrap();
    for message in messages {
        store.append(&session.id, message).unwrap();
    }
    session.id
}

#[test]
fn a_clean_transcript_is_left_alone() {
    let store = Store::open_in_memory().unwrap();
    let messages = vec![
        Message::user("list files"),
        Message::assistant("", vec![call("a")]),
        Message::Tool(ToolResult::ok(&call("a"), "README.md")),
        Message::assistant("There is a README.", vec![]),
    ];
    let id = session_with(&store, &messages);
    assert_eq!(store.repair(&id).unwrap(), vec![]);
    assert_eq!(store.messages(&id).unwrap(), messages);
}

#[test]
fn missing_results_are_appended_in_call_order_after_the_existing_ones() {
    let store = Store::open_in_memory().unwrap();
    let before = vec![
        Message::user("do three things"),
        Message::assistant("On it.", vec![call("a"), call("b"), call("c"), call("d")]),
        Message::Tool(ToolResult::ok(&call("b"), "b done")),
    ];
    let id = session_with(&store, &before);

    let appended = store.repair(&id).unwrap();
    assert_eq!(
        appended,
        vec![interrupted("a"), interrupted("c"), interrupted("d")]
    );
    assert!(appended.iter().all(|result| result.is_error));
    assert_eq!(appended[0].name, "tool_a");

    let mut expected = before;
    expected.extend(appended.iter().cloned().map(Message::Tool));
    assert_eq!(store.messages(&id).unwrap(), expected);
    assert_eq!(store.session(&id).unwrap().message_count, 6);
}

#[test]
fn repair_is_idempotent() {
    let store = Store::open_in_memory().unwrap();
    let id = session_with(
        &store,
        &[
            Message::user("go"),
            Message::assistant("", vec![call("a"), call("b")]),
        ],
    );
    assert_eq!(
        store.repair(&id).unwrap(),
        vec![interrupted("a"), interrupted("b")]
    );
    let repaired = store.messages(&id).unwrap();
    assert_eq!(store.repair(&id).unwrap(), vec![]);
    assert_eq!(store.messages(&id).unwrap(), repaired);
}

#[test]
fn the_next_append_follows_the_repaired_results() {
    let store = Store::open_in_memory().unwrap();
    let id = session_with(
        &store,
        &[Message::user("go"), Message::assistant("", vec![call("a")])],
    );
    store.repair(&id).unwrap();
    assert_eq!(store.append(&id, &Message::user("again")).unwrap(), 4);
}

#[test]
fn a_transcript_continued_without_repair_gets_results_in_place() {
    let store = Store::open_in_memory().unwrap();
    let id = session_with(
        &store,
        &[
            Message::user("first"),
            Message::assistant("", vec![call("a"), call("b")]),
            Message::Tool(ToolResult::ok(&call("a"), "a done")),
            Message::user("second"),
            Message::assistant("", vec![call("c")]),
        ],
    );

    let appended = store.repair(&id).unwrap();
    assert_eq!(appended, vec![interrupted("b"), interrupted("c")]);
    assert_eq!(
        store.messages(&id).unwrap(),
        vec![
            Message::user("first"),
            Message::assistant("", vec![call("a"), call("b")]),
            Message::Tool(ToolResult::ok(&call("a"), "a done")),
            Message::Tool(interrupted("b")),
            Message::user("second"),
            Message::assistant("", vec![call("c")]),
            Message::Tool(interrupted("c")),
        ]
    );
    assert_eq!(store.append(&id, &Message::user("third")).unwrap(), 8);
    assert_eq!(store.repair(&id).unwrap(), vec![]);
}

#[test]
fn repair_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let id = {
        let store = Store::open(&path).unwrap();
        session_with(
            &store,
            &[Message::user("go"), Message::assistant("", vec![call("a")])],
        )
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.repair(&id).unwrap(), vec![interrupted("a")]);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.repair(&id).unwrap(), vec![]);
    assert_eq!(store.messages(&id).unwrap().len(), 3);
}
