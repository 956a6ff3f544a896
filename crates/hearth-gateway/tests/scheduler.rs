//! The scheduler inside the gateway, over real sockets: jobs fire through the session
//! hub against the scripted model server, pause and resume, catch-up and clock jumps
//! with an injected clock, and webhook delivery to a local receiver (retried, then
//! recorded as failed, never re-running the job).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use hearth_gateway::scheduler::{
    self, store_time, Clock, ManualClock, SchedulerHandle, SchedulerSettings, SystemClock,
};
use hearth_store::{
    CatchUp, DeliveryStatus, JobOrigin, JobRun, NewJob, RunOutcome, RunTrigger, ScheduleSpec, Store,
};
use hearth_testkit::{ScriptUsage, Step};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::common::Harness;

/// A second connection to the gateway's state database, as the CLI would open.
fn cli_store(gateway: &Harness) -> Store {
    Store::open(&gateway.home.path().join("state.db")).unwrap()
}

fn quick_settings() -> SchedulerSettings {
    SchedulerSettings {
        delivery_backoff: vec![Duration::from_millis(20), Duration::from_millis(40)],
        ..SchedulerSettings::default()
    }
}

async fn start_scheduler(gateway: &Harness, clock: Arc<dyn Clock>) -> SchedulerHandle {
    let store = Arc::new(cli_store(gateway));
    scheduler::start(
        gateway.state.sessions.clone(),
        store,
        clock,
        quick_settings(),
    )
    .await
    .unwrap()
}

fn job(name: &str, schedule: ScheduleSpec) -> NewJob {
    NewJob {
        name: name.into(),
        schedule,
        prompt: format!("scheduled prompt of {name}"),
        session_name: None,
        deliver: None,
        catch_up: CatchUp::Once,
        origin: JobOrigin::Cli,
    }
}

fn every(duration: &str, anchor: Timestamp) -> ScheduleSpec {
    ScheduleSpec::Every {
        duration: duration.into(),
        anchor: store_time(anchor),
    }
}

fn at(time: Timestamp) -> ScheduleSpec {
    ScheduleSpec::At {
        time: store_time(time),
    }
}

fn whole_second(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).unwrap()
}

/// Waits (bounded) until `done` holds for the job's runs, oldest first; returns them.
async fn wait_for_runs(
    store: &Store,
    name: &str,
    what: &str,
    done: impl Fn(&[JobRun]) -> bool,
) -> Vec<JobRun> {
    for _ in 0..600 {
        let mut runs = store.job_history(name, 1000).unwrap();
        runs.reverse();
        if done(&runs) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{what}: never happened; runs: {:?}",
        store.job_history(name, 1000)
    );
}

fn finished(run: &JobRun) -> bool {
    !matches!(run.outcome, RunOutcome::Claimed | RunOutcome::Running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_every_two_seconds_job_added_while_running_fires_repeatedly() {
    let steps = (0..10)
        .map(|n| {
            Step::text(format!("tick {n}")).with_usage(ScriptUsage {
                input_tokens: 100,
                output_tokens: 7,
                cached_tokens: 0,
            })
        })
        .collect();
    let gateway = Harness::start(steps).await;
    let scheduler = start_scheduler(&gateway, Arc::new(SystemClock)).await;
    // Added after the scheduler started, through another connection (like the CLI).
    let store = cli_store(&gateway);
    store
        .add_job(&job("tick", every("2s", whole_second(Timestamp::now()))))
        .unwrap();
    let runs = wait_for_runs(&store, "tick", "three finished runs", |runs| {
        runs.len() >= 3 && runs[..3].iter().all(finished)
    })
    .await;
    for run in &runs[..3] {
        assert_eq!(run.outcome, RunOutcome::Ok, "{run:?}");
        assert_eq!(run.trigger, RunTrigger::Schedule);
        assert_eq!((run.input_tokens, run.output_tokens), (100, 7));
        let session = run.session_id.as_deref().unwrap();
        let (info, messages) = gateway.state.sessions.transcript(session).await.unwrap();
        assert_eq!(info.title, "schedule: tick");
        assert_eq!(messages.len(), 2, "the prompt and the answer: {messages:?}");
    }
    // Due times are two seconds apart, on the schedule (not on when they ran).
    let due = |run: &JobRun| run.due.parse::<Timestamp>().unwrap();
    let two = SignedDuration::from_secs(2);
    assert_eq!(due(&runs[1]).duration_since(due(&runs[0])), two);
    assert_eq!(due(&runs[2]).duration_since(due(&runs[1])), two);
    let requests = gateway.server.requests();
    assert!(requests.len() >= 3);
    assert!(requests[0]
        .body
        .to_string()
        .contains("scheduled prompt of tick"));
    scheduler.shut_down().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_job_does_not_run_until_resumed_and_a_named_session_is_reused() {
    let steps = (0..10).map(|n| Step::text(format!("answer {n}"))).collect();
    let gateway = Harness::start(steps).await;
    let scheduler = start_scheduler(&gateway, Arc::new(SystemClock)).await;
    let store = cli_store(&gateway);
    let mut named = job("notes", every("1s", whole_second(Timestamp::now())));
    named.session_name = Some("daily-notes".into());
    store.add_job(&named).unwrap();
    wait_for_runs(&store, "notes", "a first run", |runs| {
        runs.first().is_some_and(finished)
    })
    .await;
    store.pause_job("notes").unwrap();
    // The pause is noticed within a second; a run already claimed may still finish.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused_runs = store.job_history("notes", 100).unwrap().len();
    let paused_requests = gateway.server.requests().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(store.job_history("notes", 100).unwrap().len(), paused_runs);
    assert_eq!(gateway.server.requests().len(), paused_requests);

    store
        .resume_job("notes", &store_time(Timestamp::now()))
        .unwrap();
    let runs = wait_for_runs(&store, "notes", "a run after resuming", |runs| {
        runs.len() > paused_runs && runs.iter().all(finished)
    })
    .await;
    let sessions: std::collections::HashSet<_> = runs
        .iter()
        .filter_map(|run| run.session_id.clone())
        .collect();
    assert_eq!(sessions.len(), 1, "one named session: {runs:?}");
    let session = sessions.into_iter().next().unwrap();
    assert_eq!(
        store.named_session("daily-notes").unwrap(),
        Some(session.clone())
    );
    let (info, _) = gateway.state.sessions.transcript(&session).await.unwrap();
    assert_eq!(info.title, "daily-notes");
    scheduler.shut_down().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_clock_that_jumps_runs_each_due_time_once_and_catches_up_once() {
    let steps = (0..5).map(|n| Step::text(format!("hourly {n}"))).collect();
    let gateway = Harness::start(steps).await;
    let start = whole_second(Timestamp::now());
    let clock = Arc::new(ManualClock::new(start));
    let store = cli_store(&gateway);
    store.add_job(&job("hourly", every("1h", start))).unwrap();
    let scheduler = start_scheduler(&gateway, clock.clone()).await;
    let hour = SignedDuration::from_hours(1);

    clock.set(start + hour);
    let runs = wait_for_runs(&store, "hourly", "the first hour", |runs| {
        runs.first().is_some_and(finished)
    })
    .await;
    assert_eq!(runs[0].due, store_time(start + hour));
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);

    // Back 30 minutes, then forward to the same due time again: nothing runs twice.
    clock.set(start + SignedDuration::from_mins(30));
    clock.set(start + hour + SignedDuration::from_mins(1));
    // Forward past four more due times at once (a suspend): the latest runs once.
    clock.set(start + hour * 5 + SignedDuration::from_mins(10));
    let runs = wait_for_runs(&store, "hourly", "the catch-up", |runs| {
        runs.len() == 2 && runs.iter().all(finished)
    })
    .await;
    assert_eq!(runs[1].due, store_time(start + hour * 5));
    assert_eq!(runs[1].trigger, RunTrigger::CatchUp);
    assert_eq!(runs[1].outcome, RunOutcome::Ok);
    assert_eq!(gateway.server.requests().len(), 2);
    scheduler.shut_down().await;
    gateway.stop().await;
}

/// A local webhook receiver answering `status`; what it received.
async fn receiver(status: StatusCode) -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_the_answer_and_a_failing_one_is_retried_then_recorded() {
    let gateway = Harness::start(vec![Step::text("delivered answer"), Step::text("lost")]).await;
    let scheduler = start_scheduler(&gateway, Arc::new(SystemClock)).await;
    let store = cli_store(&gateway);
    let (good_url, good) = receiver(StatusCode::OK).await;
    let (bad_url, bad) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let soon = Timestamp::now() + SignedDuration::from_millis(300);
    let mut delivered = job("deliver-ok", at(soon));
    delivered.deliver = Some(good_url);
    store.add_job(&delivered).unwrap();

    let runs = wait_for_runs(&store, "deliver-ok", "a delivery", |runs| {
        runs.first()
            .is_some_and(|run| run.delivery == DeliveryStatus::Delivered)
    })
    .await;
    let run = &runs[0];
    assert_eq!(run.delivery_attempts, 1);
    let bodies = good.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["job"], "deliver-ok");
    assert_eq!(bodies[0]["due"], run.due.as_str());
    assert_eq!(bodies[0]["outcome"], "ok");
    assert_eq!(bodies[0]["text"], "delivered answer");
    assert_eq!(bodies[0]["session_id"], run.session_id.as_deref().unwrap());

    let mut failing = job(
        "deliver-fails",
        at(Timestamp::now() + SignedDuration::from_millis(300)),
    );
    failing.deliver = Some(bad_url);
    store.add_job(&failing).unwrap();
    let runs = wait_for_runs(&store, "deliver-fails", "a failed delivery", |runs| {
        runs.first()
            .is_some_and(|run| run.delivery == DeliveryStatus::Failed)
    })
    .await;
    assert_eq!(runs.len(), 1, "the job is not re-run: {runs:?}");
    assert_eq!(runs[0].outcome, RunOutcome::Ok);
    assert_eq!(runs[0].delivery_attempts, 3, "one try and two retries");
    assert!(
        runs[0].delivery_error.contains("500"),
        "{}",
        runs[0].delivery_error
    );
    assert_eq!(bad.lock().unwrap().len(), 3);
    assert_eq!(gateway.server.requests().len(), 2);
    scheduler.shut_down().await;
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_request_is_taken_by_the_running_scheduler() {
    let gateway = Harness::start(vec![Step::text("on demand")]).await;
    let scheduler = start_scheduler(&gateway, Arc::new(SystemClock)).await;
    let store = cli_store(&gateway);
    let far = Timestamp::now() + SignedDuration::from_hours(24);
    store.add_job(&job("later", at(far))).unwrap();
    let requested = store_time(Timestamp::now());
    store.request_run("later", &requested).unwrap();
    let runs = wait_for_runs(&store, "later", "the requested run", |runs| {
        runs.first().is_some_and(finished)
    })
    .await;
    assert_eq!(runs[0].due, requested);
    assert_eq!(runs[0].trigger, RunTrigger::Manual);
    assert_eq!(runs[0].outcome, RunOutcome::Ok);
    assert!(!store.withdraw_run_request("later", &requested).unwrap());
    // The one-off time itself is still to come.
    assert_eq!(store.job("later").unwrap().cursor, None);
    scheduler.shut_down().await;
    gateway.stop().await;
}
