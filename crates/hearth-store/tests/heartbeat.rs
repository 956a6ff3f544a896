//! Heartbeat ticks and probe hashes: a tick and its probes' hashes are recorded in one
//! transaction, survive reopening, and list latest first.

use hearth_store::{NewTick, Store, TickOutcome};

fn tick(outcome: TickOutcome, changed: &[&str]) -> NewTick {
    NewTick {
        started_at: "2026-12-05T08:00:00.000Z".into(),
        outcome,
        changed: changed.iter().map(|name| name.to_string()).collect(),
        attention: vec![],
        session_id: None,
        input_tokens: 0,
        output_tokens: 0,
        detail: String::new(),
    }
}

#[test]
fn ticks_and_probe_hashes_are_recorded_together_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = Store::open(&path).unwrap();
        assert!(store.probe_hashes().unwrap().is_empty());
        store
            .record_heartbeat_tick(
                &tick(TickOutcome::Quiet, &[]),
                &[("mail".into(), "aa".into()), ("feed".into(), "bb".into())],
            )
            .unwrap();
        let mut woke = tick(TickOutcome::Woke, &["mail"]);
        woke.session_id = Some("s1".into());
        woke.input_tokens = 120;
        woke.output_tokens = 7;
        let stored = store
            .record_heartbeat_tick(&woke, &[("mail".into(), "cc".into())])
            .unwrap();
        assert_eq!(stored.outcome, TickOutcome::Woke);
        assert_eq!(stored.changed, ["mail"]);
        assert_eq!(stored.input_tokens, 120);
    }
    let store = Store::open(&path).unwrap();
    let hashes = store.probe_hashes().unwrap();
    assert_eq!(hashes.get("mail").map(String::as_str), Some("cc"));
    assert_eq!(hashes.get("feed").map(String::as_str), Some("bb"));
    let ticks = store.heartbeat_ticks(10).unwrap();
    assert_eq!(ticks.len(), 2);
    assert_eq!(ticks[0].outcome, TickOutcome::Woke, "latest first");
    assert_eq!(ticks[0].session_id.as_deref(), Some("s1"));
    assert_eq!(ticks[1].outcome, TickOutcome::Quiet);
    assert_eq!(store.heartbeat_ticks(1).unwrap().len(), 1);
}
