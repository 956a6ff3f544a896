//! The heartbeat through the real gateway: probes run in the sandbox, ticks with no news
//! make no model request, a changed probe makes exactly one, an attention exit status
//! wakes the model, and every tick is recorded.

use std::time::Duration;

use hearth_gateway::heartbeat::Heartbeat;
use hearth_runtime::config::{HeartbeatConfig, ProbeConfig};
use hearth_store::{Store, TickOutcome};
use hearth_testkit::{ScriptUsage, Step};
use tokio_util::sync::CancellationToken;

use crate::common::Harness;

fn config() -> HeartbeatConfig {
    HeartbeatConfig {
        every: Some(Duration::from_secs(1800)),
        probes: vec![
            ProbeConfig {
                name: "inbox".into(),
                command: "cat inbox.txt".into(),
            },
            ProbeConfig {
                name: "alarm".into(),
                command: "if [ -e alarm ]; then echo ring; exit 2; else exit 1; fi".into(),
            },
        ],
        ..HeartbeatConfig::default()
    }
}

fn answer(text: &str) -> Step {
    Step::text(text).with_usage(ScriptUsage {
        input_tokens: 500,
        output_tokens: 5,
        ..ScriptUsage::default()
    })
}

#[tokio::test]
async fn ticks_wake_the_model_only_on_news() {
    let gateway = Harness::start(vec![answer("mail noted"), answer("alarm noted")]).await;
    let workspace = gateway.workspace();
    std::fs::write(workspace.join("inbox.txt"), "1 unread\n").unwrap();
    std::fs::write(
        workspace.join("HEARTBEAT.md"),
        "- Tell me about new mail.\n",
    )
    .unwrap();
    let store = std::sync::Arc::new(Store::open(&gateway.home.path().join("state.db")).unwrap());
    let heartbeat = Heartbeat::with_config(
        &gateway.state.runtime,
        gateway.state.sessions.clone(),
        store.clone(),
        config(),
    )
    .unwrap();
    let cancel = CancellationToken::new();

    // The first output is the baseline; the same output again is no news.
    for _ in 0..3 {
        let tick = heartbeat.tick(&cancel).await.unwrap();
        assert_eq!(tick.outcome, TickOutcome::Quiet, "{tick:?}");
        assert_eq!(tick.detail, "", "no probe failed");
    }
    assert_eq!(gateway.server.requests().len(), 0, "no news, no model call");

    // A changed output wakes the model once, with the news and the checklist.
    std::fs::write(workspace.join("inbox.txt"), "2 unread\n").unwrap();
    let tick = heartbeat.tick(&cancel).await.unwrap();
    assert_eq!(tick.outcome, TickOutcome::Woke, "{tick:?}");
    assert_eq!(tick.changed, ["inbox"]);
    assert_eq!((tick.input_tokens, tick.output_tokens), (500, 5));
    let requests = gateway.server.requests();
    assert_eq!(requests.len(), 1, "exactly one model request");
    let prompt = requests[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prompt.contains("probe inbox changed"), "{prompt}");
    assert!(prompt.contains("2 unread"), "{prompt}");
    // The output is outside text, so the turn is tainted (the loop's test:
    // `hearth-agent`'s `outside_text_in_the_turns_message_taints_and_names_no_host`).
    assert_eq!(
        hearth_tools::outside_text_source(&prompt),
        Some("probe:inbox"),
        "{prompt}"
    );
    assert!(!hearth_tools::without_outside_text(&prompt).contains("2 unread"));
    assert!(prompt.contains("Tell me about new mail."), "{prompt}");
    let session = tick.session_id.clone().unwrap();
    assert_eq!(
        gateway
            .state
            .sessions
            .session(&session)
            .await
            .unwrap()
            .title,
        "heartbeat"
    );

    // Taken in: the same output is no news again.
    let tick = heartbeat.tick(&cancel).await.unwrap();
    assert_eq!(tick.outcome, TickOutcome::Quiet);
    assert_eq!(gateway.server.requests().len(), 1);

    // Exit status 2 asks for attention whatever the output.
    std::fs::write(workspace.join("alarm"), "").unwrap();
    let tick = heartbeat.tick(&cancel).await.unwrap();
    assert_eq!(tick.outcome, TickOutcome::Woke, "{tick:?}");
    assert_eq!(tick.attention, ["alarm"]);
    assert_eq!(gateway.server.requests().len(), 2);

    let history = store.heartbeat_ticks(100).unwrap();
    assert_eq!(history.len(), 6);
    assert_eq!(
        history
            .iter()
            .filter(|tick| tick.outcome == TickOutcome::Woke)
            .count(),
        2
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_failing_probe_is_recorded_and_does_not_wake() {
    let gateway = Harness::start(vec![]).await;
    let store = std::sync::Arc::new(Store::open(&gateway.home.path().join("state.db")).unwrap());
    let mut config = config();
    config.probes = vec![ProbeConfig {
        name: "broken".into(),
        command: "exit 7".into(),
    }];
    let heartbeat = Heartbeat::with_config(
        &gateway.state.runtime,
        gateway.state.sessions.clone(),
        store,
        config,
    )
    .unwrap();
    let tick = heartbeat.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(tick.outcome, TickOutcome::Quiet);
    assert!(
        tick.detail.contains("probe broken: exit code 7"),
        "{tick:?}"
    );
    assert_eq!(gateway.server.requests().len(), 0);
    gateway.stop().await;
}

#[tokio::test]
async fn the_running_heartbeat_ticks_on_its_own_and_stops() {
    let gateway = Harness::start(vec![]).await;
    std::fs::write(gateway.workspace().join("inbox.txt"), "same\n").unwrap();
    let store = std::sync::Arc::new(Store::open(&gateway.home.path().join("state.db")).unwrap());
    let mut config = config();
    config.every = Some(Duration::from_millis(100));
    let heartbeat = Heartbeat::with_config(
        &gateway.state.runtime,
        gateway.state.sessions.clone(),
        store.clone(),
        config,
    )
    .unwrap();
    let running = hearth_gateway::heartbeat::start(heartbeat).expect("every is set");
    let mut ticks = 0;
    for _ in 0..200 {
        ticks = store.heartbeat_ticks(100).unwrap().len();
        if ticks >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ticks >= 3, "only {ticks} ticks");
    running.shut_down(Duration::from_secs(10)).await;
    let after_stop = store.heartbeat_ticks(100).unwrap().len();
    assert!(store
        .heartbeat_ticks(100)
        .unwrap()
        .iter()
        .all(|tick| tick.outcome == TickOutcome::Quiet));
    assert_eq!(gateway.server.requests().len(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.heartbeat_ticks(100).unwrap().len(),
        after_stop,
        "no tick after shut_down"
    );
    gateway.stop().await;
}
