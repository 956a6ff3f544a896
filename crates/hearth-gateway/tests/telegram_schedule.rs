//! Scheduled runs delivered to a Telegram chat (`--deliver telegram:CHAT`): the real
//! gateway with its channels and scheduler, the scripted model server and the scripted
//! Bot API server. The answer arrives escaped and the run is recorded delivered; a chat
//! the agent may not write to is refused and recorded failed; with the Bot API server
//! down the outbox retries and later delivers, and the job never runs twice.

use std::sync::Arc;
use std::time::Duration;

use hearth_gateway::scheduler::{
    self, store_time, DeliveryTarget, SchedulerHandle, SchedulerSettings, SystemClock,
};
use hearth_store::{
    CatchUp, DeliveryStatus, JobOrigin, JobRun, NewJob, RunOutcome, ScheduleSpec, Store,
};
use hearth_testkit::Step;
use jiff::{SignedDuration, Timestamp};

use crate::telegram::{texts_to, TelegramHarness, OWNER, STRANGER, WAIT};

async fn start_scheduler(harness: &TelegramHarness) -> SchedulerHandle {
    let running = harness.gateway.running.as_ref().unwrap();
    scheduler::start(
        running.state.sessions.clone(),
        Arc::new(harness.gateway.store()),
        Arc::new(SystemClock),
        SchedulerSettings {
            delivery_backoff: vec![Duration::from_millis(200); 20],
            channels: running.channels.directory.clone(),
            ..SchedulerSettings::default()
        },
    )
    .await
    .unwrap()
}

fn job(name: &str, schedule: ScheduleSpec, deliver: &str) -> NewJob {
    NewJob {
        name: name.into(),
        schedule,
        prompt: format!("scheduled prompt of {name}"),
        session_name: None,
        deliver: Some(deliver.into()),
        catch_up: CatchUp::Once,
        origin: JobOrigin::Cli,
    }
}

/// A one-off job due in a second.
fn soon() -> ScheduleSpec {
    ScheduleSpec::At {
        time: store_time(Timestamp::now() + SignedDuration::from_secs(1)),
    }
}

/// Waits (bounded) until `done` holds for the job's runs, oldest first; returns them.
async fn wait_for_runs(store: &Store, name: &str, done: impl Fn(&[JobRun]) -> bool) -> Vec<JobRun> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut runs = store.job_history(name, 100).unwrap();
        runs.reverse();
        if done(&runs) {
            return runs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: never happened; runs: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_chat_target_names_a_known_channel_kind() {
    assert_eq!(
        DeliveryTarget::parse("telegram:-100123"),
        Ok(DeliveryTarget::Chat {
            channel: "telegram".into(),
            chat: "-100123".into()
        })
    );
    assert_eq!(
        DeliveryTarget::parse("matrix:!room:example.org"),
        Ok(DeliveryTarget::Chat {
            channel: "matrix".into(),
            chat: "!room:example.org".into()
        })
    );
    assert_eq!(
        DeliveryTarget::parse("email:me@example.org"),
        Ok(DeliveryTarget::Chat {
            channel: "email".into(),
            chat: "me@example.org".into()
        })
    );
    let unknown = DeliveryTarget::parse("slack:C123").unwrap_err();
    assert!(unknown.contains("unknown target 'slack'"), "{unknown}");
    assert!(unknown.contains("telegram, matrix, email"), "{unknown}");
    let empty = DeliveryTarget::parse("telegram:").unwrap_err();
    assert!(empty.contains("no chat"), "{empty}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_two_seconds_job_arrives_in_the_chat_escaped_and_is_recorded_delivered() {
    let steps = (0..6)
        .map(|n| Step::text(format!("<b>report {n}</b> & <script>x</script>")))
        .collect();
    let harness = TelegramHarness::start(steps).await;
    let scheduler = start_scheduler(&harness).await;
    let store = harness.gateway.store();
    let anchor = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
    let every = ScheduleSpec::Every {
        duration: "2s".into(),
        anchor: store_time(anchor),
    };
    store
        .add_job(&job("report", every, &format!("telegram:{OWNER}")))
        .unwrap();
    let replies = harness.replies(OWNER, 2).await;
    assert_eq!(
        replies[0],
        "&lt;b&gt;report 0&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;"
    );
    assert!(replies[1].starts_with("&lt;b&gt;report 1&lt;/b&gt;"));
    let runs = wait_for_runs(&store, "report", |runs| {
        runs.iter()
            .filter(|run| run.delivery == DeliveryStatus::Delivered)
            .count()
            >= 2
    })
    .await;
    assert!(runs[..2].iter().all(|run| run.outcome == RunOutcome::Ok
        && run.delivery_attempts == 1
        && run.delivery_error.is_empty()));
    let sent = harness.telegram.sent_messages();
    assert_eq!(sent[0]["parse_mode"], "HTML");
    scheduler.shut_down().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_nobody_allowed_and_a_channel_not_running_are_refused_and_recorded_failed() {
    let harness = TelegramHarness::start(vec![
        Step::text("for the stranger"),
        Step::text("for matrix"),
    ])
    .await;
    let scheduler = start_scheduler(&harness).await;
    let store = harness.gateway.store();
    store
        .add_job(&job("leak", soon(), &format!("telegram:{STRANGER}")))
        .unwrap();
    store
        .add_job(&job("nowhere", soon(), "matrix:!room:example.org"))
        .unwrap();
    let failed = |runs: &[JobRun]| {
        runs.first()
            .is_some_and(|run| run.delivery == DeliveryStatus::Failed)
    };
    let leak = wait_for_runs(&store, "leak", failed).await;
    assert_eq!(leak[0].outcome, RunOutcome::Ok, "the job itself ran");
    assert!(
        leak[0]
            .delivery_error
            .contains("not a chat of anyone allowed to talk to the agent"),
        "{}",
        leak[0].delivery_error
    );
    let nowhere = wait_for_runs(&store, "nowhere", failed).await;
    assert!(
        nowhere[0]
            .delivery_error
            .contains("the matrix channel is not running"),
        "{}",
        nowhere[0].delivery_error
    );
    assert!(texts_to(&harness.telegram.requests(), STRANGER).is_empty());
    assert!(store.channel_outbox("telegram").unwrap().is_empty());
    scheduler.shut_down().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_bot_api_down_the_answer_is_retried_and_delivered_without_a_second_run() {
    let mut harness = TelegramHarness::start(vec![Step::text("delivered late")]).await;
    let scheduler = start_scheduler(&harness).await;
    let store = harness.gateway.store();
    harness.telegram.stop();
    store
        .add_job(&job("late", soon(), &format!("telegram:{OWNER}")))
        .unwrap();
    // The first attempt failed and the chunk waits in the outbox.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !store
        .channel_outbox("telegram")
        .unwrap()
        .iter()
        .any(|row| row.status == "pending" && row.attempts >= 1)
    {
        assert!(tokio::time::Instant::now() < deadline, "no failed attempt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    harness.telegram.restart().await.unwrap();
    let runs = wait_for_runs(&store, "late", |runs| {
        runs.first()
            .is_some_and(|run| run.delivery == DeliveryStatus::Delivered)
    })
    .await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].delivery_attempts >= 2, "{runs:?}");
    assert_eq!(harness.replies(OWNER, 1).await, vec!["delivered late"]);
    assert_eq!(
        harness.gateway.model.requests().len(),
        1,
        "the job ran once"
    );
    scheduler.shut_down().await;
    harness.stop().await;
}
