//! The channels' durable state: a cursor stored with its messages, redeliveries
//! skipped, pairing codes rate-limited and expiring, replies queued with the answer.

use hearth_store::{NewInboxMessage, PairingOffer, Store};

fn message(id: &str, text: &str) -> NewInboxMessage {
    NewInboxMessage {
        external_id: id.into(),
        chat: "42".into(),
        thread: String::new(),
        sender: "7".into(),
        body: text.into(),
    }
}

#[test]
fn the_cursor_is_stored_with_its_messages_and_a_redelivery_is_skipped() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.channel_cursor("telegram").unwrap(), None);
    let ids = store
        .channel_receive(
            "telegram",
            &[message("1", "a"), message("2", "b")],
            Some("3"),
        )
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(
        store.channel_cursor("telegram").unwrap().as_deref(),
        Some("3")
    );
    let again = store
        .channel_receive(
            "telegram",
            &[message("2", "b"), message("3", "c")],
            Some("4"),
        )
        .unwrap();
    assert_eq!(again[0], None, "update 2 was already stored");
    assert!(again[1].is_some());
    let unanswered = store.channel_unanswered("telegram").unwrap();
    assert_eq!(unanswered.len(), 3);
    store
        .queue_reply("telegram", "42", "", ids[0], &["hi".into()])
        .unwrap();
    assert_eq!(store.channel_unanswered("telegram").unwrap().len(), 2);
    let pending = store.pending_replies("telegram").unwrap();
    assert_eq!(pending.len(), 1);
    store
        .record_delivery(pending[0].id, "sent", "900", "")
        .unwrap();
    assert!(store.pending_replies("telegram").unwrap().is_empty());
    assert_eq!(store.channel_outbox("telegram").unwrap()[0].attempts, 1);
}

#[test]
fn a_pairing_code_is_sent_once_an_hour_and_admits_its_sender() {
    let store = Store::open_in_memory().unwrap();
    let offer = |fresh: &str, now: i64| {
        store
            .pairing_offer("telegram", "7", "42", "Eve", fresh, now, 3600, 3600)
            .unwrap()
    };
    assert_eq!(
        offer("AAAA1111", 1000),
        PairingOffer::Send {
            code: "AAAA1111".into()
        }
    );
    assert_eq!(offer("BBBB2222", 1500), PairingOffer::Quiet);
    // After the hour the code has expired too: a new one.
    assert_eq!(
        offer("CCCC3333", 4700),
        PairingOffer::Send {
            code: "CCCC3333".into()
        }
    );
    assert_eq!(store.pair("AAAA1111", 4800).unwrap(), None, "expired");
    assert!(!store.is_admitted("telegram", "7").unwrap());
    let admitted = store.pair("cccc3333", 4800).unwrap().unwrap();
    assert_eq!(
        (admitted.channel.as_str(), admitted.sender.as_str()),
        ("telegram", "7")
    );
    assert!(store.is_admitted("telegram", "7").unwrap());
    assert_eq!(store.pair("CCCC3333", 4800).unwrap(), None, "used once");
    // Admitted now: no code, however long it has been.
    assert_eq!(offer("DDDD4444", 99_000), PairingOffer::Quiet);
    assert_eq!(store.admitted_senders().unwrap().len(), 1);
}

#[test]
fn a_chat_maps_to_a_session_and_connection_state_is_kept() {
    let store = Store::open_in_memory().unwrap();
    let first = store
        .create_session("openai:m", std::path::Path::new("/w"))
        .unwrap();
    let second = store
        .create_session("openai:m", std::path::Path::new("/w"))
        .unwrap();
    assert_eq!(store.channel_session("telegram", "42", "").unwrap(), None);
    store
        .set_channel_session("telegram", "42", "", &first.id)
        .unwrap();
    store
        .set_channel_session("telegram", "42", "", &second.id)
        .unwrap();
    assert_eq!(
        store.channel_session("telegram", "42", "").unwrap(),
        Some(second.id.clone())
    );
    store
        .set_channel_connection("telegram", "connected", "")
        .unwrap();
    let statuses = store.channel_statuses().unwrap();
    assert_eq!(statuses[0].connection, "connected");
}
