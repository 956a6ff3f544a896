//! Compaction checkpoints: stored durably, the latest one decides what a resumed
//! session's history starts from, and the full transcript stays.

use hearth_protocol::Message;
use hearth_store::{NewCheckpoint, Store};

#[test]
fn a_resumed_session_starts_from_the_latest_checkpoint_and_keeps_the_transcript() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let session = {
        let store = Store::open(&path).unwrap();
        let session = store
            .create_session("openai:tiny", std::path::Path::new("/w"))
            .unwrap();
        for text in ["one", "two", "three", "four"] {
            store.append(&session.id, &Message::user(text)).unwrap();
        }
        assert!(store
            .resume_context(&session.id)
            .unwrap()
            .checkpoint
            .is_none());
        for (up_to_seq, summary) in [(1, "first"), (3, "second")] {
            store
                .add_checkpoint(
                    &session.id,
                    &NewCheckpoint {
                        up_to_seq,
                        summary: summary.into(),
                        model: "openai:tiny".into(),
                        tokens_before: 1700,
                        tokens_after: 300,
                    },
                )
                .unwrap();
        }
        session
    };
    let store = Store::open(&path).unwrap();
    let context = store.resume_context(&session.id).unwrap();
    let checkpoint = context.checkpoint.unwrap();
    assert_eq!(
        (checkpoint.up_to_seq, checkpoint.summary.as_str()),
        (3, "second")
    );
    assert_eq!(
        (checkpoint.tokens_before, checkpoint.tokens_after),
        (1700, 300)
    );
    assert_eq!(context.messages, vec![(4, Message::user("four"))]);
    assert_eq!(store.messages(&session.id).unwrap().len(), 4);
    assert_eq!(store.checkpoints(&session.id).unwrap().len(), 2);
    store.delete_session(&session.id).unwrap();
    assert!(store.checkpoints(&session.id).is_err());
}

#[test]
fn child_sessions_are_linked_and_their_costs_count_toward_the_family() {
    let store = Store::open_in_memory().unwrap();
    let w = std::path::Path::new("/w");
    let parent = store.create_session("openai:tiny", w).unwrap();
    let other = store.create_session("openai:tiny", w).unwrap();
    let child = store
        .create_child_session("openai:tiny", w, &parent.id)
        .unwrap();
    assert_eq!(store.parent_id(&child.id).unwrap(), Some(parent.id.clone()));
    assert_eq!(store.parent_id(&parent.id).unwrap(), None);
    assert_eq!(
        store.child_sessions(&parent.id).unwrap(),
        vec![child.clone()]
    );
    let usage = hearth_protocol::Usage::default();
    let answer = Message::assistant("a", vec![]);
    store
        .append_with_usage(&parent.id, &answer, "m", &usage, 0.25)
        .unwrap();
    store
        .append_with_usage(&child.id, &answer, "m", &usage, 0.5)
        .unwrap();
    store
        .append_with_usage(&other.id, &answer, "m", &usage, 4.0)
        .unwrap();
    assert_eq!(store.family_cost_usd(&parent.id).unwrap(), 0.75);
    assert_eq!(store.family_cost_usd(&child.id).unwrap(), 0.75);
    assert_eq!(store.session_cost_usd(&parent.id).unwrap(), 0.25);
    assert!(store
        .create_child_session("openai:tiny", w, "no-such-session")
        .is_err());
}
