//! Transcripts: every message kind round-trips, order and titles hold, data survives
//! reopening, and a damaged row is reported rather than crashing.

use std::path::Path;

use hearth_protocol::{Message, ToolCall, ToolResult};
use hearth_store::{Store, StoreError};

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn every_kind_of_message() -> Vec<Message> {
    let read = call("call_1", "read_file", r#"{"path":"src/main.rs"}"#);
    let broken = call("call_2", "shell", "{not json");
    vec![
        Message::user("Read main.rs — and say «hi» 👋\nsecond line"),
        Message::assistant("", vec![read.clone(), broken.clone()]),
        Message::Tool(ToolResult::ok(&read, "fn main() {}\n")),
        Message::Tool(ToolResult::error(&broken, "arguments are not valid JSON")),
        Message::assistant("Let me look.", vec![call("call_3", "ls", "{}")]),
        Message::Tool(ToolResult::ok(&call("call_3", "ls", "{}"), "")),
        Message::assistant("It prints nothing.", vec![]),
        Message::user(""),
    ]
}

#[test]
fn every_message_kind_round_trips_in_order() {
    let store = Store::open_in_memory().unwrap();
    let session = store
        .create_session("openai:gpt-test", Path::new("/work"))
        .unwrap();
    let messages = every_kind_of_message();
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| store.append(&session.id, m).unwrap())
        .collect();
    assert_eq!(seqs, (1..=messages.len() as i64).collect::<Vec<_>>());
    assert_eq!(store.messages(&session.id).unwrap(), messages);
    assert_eq!(
        store.session(&session.id).unwrap().message_count,
        messages.len() as i64
    );
}

#[test]
fn sessions_keep_separate_transcripts() {
    let store = Store::open_in_memory().unwrap();
    let first = store.create_session("m", Path::new("/a")).unwrap();
    let second = store.create_session("m", Path::new("/b")).unwrap();
    store.append(&first.id, &Message::user("one")).unwrap();
    assert_eq!(store.append(&second.id, &Message::user("two")).unwrap(), 1);
    assert_eq!(store.append(&first.id, &Message::user("three")).unwrap(), 2);
    assert_eq!(
        store.messages(&first.id).unwrap(),
        vec![Message::user("one"), Message::user("three")]
    );
    assert_eq!(
        store.messages(&second.id).unwrap(),
        vec![Message::user("two")]
    );
}

#[test]
fn unknown_sessions_are_reported_not_created() {
    let store = Store::open_in_memory().unwrap();
    let append = store.append("no-such-session", &Message::user("hi"));
    assert!(matches!(append, Err(StoreError::SessionNotFound { .. })));
    let read = store.messages("no-such-session");
    assert!(matches!(read, Err(StoreError::SessionNotFound { .. })));
    let title = store.set_title("no-such-session", "x");
    assert!(matches!(title, Err(StoreError::SessionNotFound { .. })));
}

#[test]
fn the_first_user_message_sets_the_title() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    assert_eq!(session.title, "");
    store
        .append(
            &session.id,
            &Message::assistant("Hello, how can I help?", vec![]),
        )
        .unwrap();
    assert_eq!(store.session(&session.id).unwrap().title, "");
    store
        .append(
            &session.id,
            &Message::user("Fix the flaky test\nIt fails on CI"),
        )
        .unwrap();
    assert_eq!(
        store.session(&session.id).unwrap().title,
        "Fix the flaky test"
    );
    store
        .append(&session.id, &Message::user("And then deploy"))
        .unwrap();
    assert_eq!(
        store.session(&session.id).unwrap().title,
        "Fix the flaky test"
    );
}

#[test]
fn a_long_first_line_is_cut_to_sixty_characters() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    let long = "ä".repeat(200);
    store.append(&session.id, &Message::user(long)).unwrap();
    let title = store.session(&session.id).unwrap().title;
    assert_eq!(title.chars().count(), 60);
    assert!(title.ends_with('…'));
}

#[test]
fn an_explicit_title_wins_over_the_first_message() {
    let store = Store::open_in_memory().unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    store.set_title(&session.id, "Release prep").unwrap();
    store
        .append(&session.id, &Message::user("first words"))
        .unwrap();
    assert_eq!(store.session(&session.id).unwrap().title, "Release prep");
}

#[test]
fn everything_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/home/state.db");
    let messages = every_kind_of_message();
    let session = {
        let store = Store::open(&path).unwrap();
        let session = store.create_session("m", Path::new("/w")).unwrap();
        for message in &messages {
            store.append(&session.id, message).unwrap();
        }
        session
    };
    let store = Store::open(&path).unwrap();
    assert_eq!(store.messages(&session.id).unwrap(), messages);
    let reopened = store.session(&session.id).unwrap();
    assert_eq!(reopened.title, "Read main.rs — and say «hi» 👋");
    assert_eq!(reopened.message_count, messages.len() as i64);
    assert_eq!(
        store.append(&session.id, &Message::user("more")).unwrap(),
        9
    );
}

#[test]
fn a_row_that_does_not_decode_names_the_session_and_seq() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    store.append(&session.id, &Message::user("fine")).unwrap();
    store
        .append(&session.id, &Message::user("soon broken"))
        .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE messages SET body = '{\"role\":\"alien\"}' WHERE session_id = ?1 AND seq = 2",
        [&session.id],
    )
    .unwrap();

    let error = store.messages(&session.id).unwrap_err();
    match &error {
        StoreError::UndecodableMessage {
            session_id, seq, ..
        } => {
            assert_eq!(session_id, &session.id);
            assert_eq!(*seq, 2);
        }
        other => panic!("expected an undecodable message, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(&session.id), "{message}");
    assert!(message.contains("message 2"), "{message}");
}

#[test]
fn two_stores_on_one_file_append_without_losing_or_reusing_seqs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let session_id = Store::open(&path)
        .unwrap()
        .create_session("m", Path::new("/w"))
        .unwrap()
        .id;
    let writers: Vec<_> = ["cli", "gateway"]
        .into_iter()
        .map(|writer| {
            let path = path.clone();
            let session_id = session_id.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                (0..25)
                    .map(|n| {
                        let text = format!("{writer} {n}");
                        store.append(&session_id, &Message::user(text)).unwrap()
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut seqs: Vec<i64> = writers
        .into_iter()
        .flat_map(|writer| writer.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    let store = Store::open(&path).unwrap();
    assert_eq!(store.messages(&session_id).unwrap().len(), 50);
}

#[test]
fn rows_from_before_provider_state_load_and_the_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = Store::open(&path).unwrap();
    let session = store.create_session("m", Path::new("/w")).unwrap();
    let mut fields = serde_json::Map::new();
    fields.insert("reasoning_content".into(), "thinking".into());
    let state = hearth_protocol::ProviderState {
        wire: "openai".into(),
        model: "deepseek-chat".into(),
        fields,
    };
    let with_state =
        Message::assistant_with_state("", vec![call("call_1", "ls", "{}")], Some(state));
    store.append(&session.id, &with_state).unwrap();
    store.append(&session.id, &Message::user("old")).unwrap();
    // A row exactly as a build without provider_state wrote it.
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE messages SET body = '{\"role\":\"assistant\",\"text\":\"old answer\",\"tool_calls\":[{\"id\":\"c\",\"name\":\"ls\",\"arguments\":\"{}\"}]}' WHERE session_id = ?1 AND seq = 2",
        [&session.id],
    )
    .unwrap();

    let messages = store.messages(&session.id).unwrap();
    assert_eq!(messages[0], with_state);
    assert_eq!(
        messages[1],
        Message::assistant("old answer", vec![call("c", "ls", "{}")])
    );
}

/// A write waiting on the database (here: another connection holds the write lock)
/// waits on the store's thread, not on the runtime: on a one-thread runtime another
/// task still runs, and releases the lock, before the write is acknowledged. With the
/// write made on the runtime's thread (the old loop), the other task could not run
/// until the write gave up with "locked".
#[test]
fn an_async_write_stuck_on_the_database_leaves_the_runtime_free() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    let session = store
        .create_session("test:model", Path::new("/work"))
        .unwrap();
    let handle = hearth_store::AsyncStore::spawn(store.clone()).unwrap();

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let order = runtime.block_on(async {
        let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
        let writer = {
            let (handle, done, id) = (handle.clone(), done.clone(), session.id.clone());
            tokio::spawn(async move {
                let seq = handle.append(&id, &Message::user("stuck")).await;
                done.send(format!("write {seq:?}")).unwrap();
            })
        };
        let releaser = tokio::spawn(async move {
            tokio::task::yield_now().await;
            blocker.execute_batch("COMMIT").unwrap();
            done.send("released".to_string()).unwrap();
        });
        releaser.await.unwrap();
        writer.await.unwrap();
        let mut order = Vec::new();
        while let Ok(event) = finished.try_recv() {
            order.push(event);
        }
        order
    });
    assert_eq!(order, ["released", "write Ok(1)"]);
    assert_eq!(
        store.messages(&session.id).unwrap(),
        [Message::user("stuck")]
    );
}

/// The async handle keeps write-ahead: each append is durable (another connection
/// sees it) when acknowledged, in the order awaited, and a write whose caller stopped
/// waiting still lands.
#[test]
fn async_appends_are_durable_in_order_when_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = std::sync::Arc::new(Store::open(&path).unwrap());
    let session = store
        .create_session("test:model", Path::new("/work"))
        .unwrap();
    let handle = hearth_store::AsyncStore::spawn(store).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let messages = every_kind_of_message();
    let stored = runtime.block_on(async {
        for (n, message) in messages.iter().enumerate() {
            let seq = handle.append(&session.id, message).await.unwrap();
            assert_eq!(seq, n as i64 + 1);
            let other = Store::open(&path).unwrap();
            assert_eq!(other.messages(&session.id).unwrap().len(), n + 1);
        }
        // Polled once (the write is queued), then dropped: it lands all the same,
        // before anything asked for after it.
        let last = Message::user("abandoned");
        let abandoned = handle.append(&session.id, &last);
        poll_once(std::pin::pin!(abandoned)).await;
        handle.messages(&session.id).await.unwrap()
    });
    let mut expected = messages;
    expected.push(Message::user("abandoned"));
    assert_eq!(stored, expected);
}

/// Polls `future` once.
async fn poll_once<F: std::future::Future>(mut future: std::pin::Pin<&mut F>) {
    std::future::poll_fn(move |cx| {
        let _ = future.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await
}
