//! Scheduled jobs: a due time is claimed at most once (across connections, as across
//! processes), unfinished runs become interrupted, and definition changes bump the version.

use hearth_store::{
    CatchUp, DeliveryStatus, JobOrigin, NewJob, RunOutcome, RunResult, RunTrigger, ScheduleSpec,
    Store, StoreError,
};

fn every_job(name: &str) -> NewJob {
    NewJob {
        name: name.into(),
        schedule: ScheduleSpec::Every {
            duration: "30m".into(),
            anchor: "2026-12-05T08:00:00.000Z".into(),
        },
        prompt: "check the mail".into(),
        session_name: None,
        deliver: Some("https://example.com/hook".into()),
        catch_up: CatchUp::Once,
        origin: JobOrigin::Cli,
    }
}

#[test]
fn a_due_time_is_claimed_once_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let gateway = Store::open(&path).unwrap();
    let other = Store::open(&path).unwrap();
    let job = gateway.add_job(&every_job("mail")).unwrap();
    assert_eq!(job.cursor, None);
    assert!(job.enabled);

    let due = "2026-12-05T08:30:00.000Z";
    let run = gateway
        .claim_run(job.id, due, RunTrigger::Schedule)
        .unwrap();
    assert!(run.is_some());
    assert_eq!(
        other.claim_run(job.id, due, RunTrigger::Schedule).unwrap(),
        None
    );
    assert_eq!(other.job("mail").unwrap().cursor.as_deref(), Some(due));

    let run = run.unwrap();
    gateway.start_run(run, "session-1").unwrap();
    let result = RunResult {
        outcome: RunOutcome::Ok,
        input_tokens: 12,
        output_tokens: 3,
        detail: String::new(),
    };
    gateway.finish_run(run, &result, true).unwrap();
    gateway
        .record_run_delivery(run, DeliveryStatus::Delivered, 2, "")
        .unwrap();
    let history = other.job_history("mail", 10).unwrap();
    assert_eq!(history.len(), 1);
    let shown = &history[0];
    assert_eq!(shown.outcome, RunOutcome::Ok);
    assert_eq!(shown.session_id.as_deref(), Some("session-1"));
    assert_eq!((shown.input_tokens, shown.output_tokens), (12, 3));
    assert_eq!(shown.delivery, DeliveryStatus::Delivered);
    assert_eq!(shown.delivery_attempts, 2);
}

#[test]
fn unfinished_runs_become_interrupted_and_are_not_claimable_again() {
    let store = Store::open_in_memory().unwrap();
    let job = store.add_job(&every_job("mail")).unwrap();
    let due = "2026-12-05T08:30:00.000Z";
    let claimed = store
        .claim_run(job.id, due, RunTrigger::Schedule)
        .unwrap()
        .unwrap();
    let running = store
        .claim_run(job.id, "2026-12-05T09:00:00.000Z", RunTrigger::Schedule)
        .unwrap()
        .unwrap();
    store.start_run(running, "s").unwrap();
    assert_eq!(store.interrupt_unfinished_runs().unwrap(), 2);
    for run in [claimed, running] {
        let run = store.job_run(run).unwrap().unwrap();
        assert_eq!(run.outcome, RunOutcome::Interrupted);
        assert!(run.detail.contains("not re-run"), "{}", run.detail);
    }
    assert_eq!(
        store.claim_run(job.id, due, RunTrigger::CatchUp).unwrap(),
        None
    );
    assert_eq!(store.interrupt_unfinished_runs().unwrap(), 0);
}

#[test]
fn definition_changes_bump_the_version_and_runs_do_not() {
    let store = Store::open_in_memory().unwrap();
    let start = store.jobs_version().unwrap();
    let job = store.add_job(&every_job("mail")).unwrap();
    assert_eq!(store.jobs_version().unwrap(), start + 1);
    store
        .claim_run(job.id, "2026-12-05T08:30:00.000Z", RunTrigger::Schedule)
        .unwrap();
    assert_eq!(store.jobs_version().unwrap(), start + 1);
    store.pause_job("mail").unwrap();
    assert!(!store.job("mail").unwrap().enabled);
    store
        .resume_job("mail", "2026-12-06T00:00:00.000Z")
        .unwrap();
    let resumed = store.job("mail").unwrap();
    assert!(resumed.enabled);
    // Due times that passed while paused are not caught up.
    assert_eq!(resumed.cursor.as_deref(), Some("2026-12-06T00:00:00.000Z"));
    assert_eq!(store.jobs_version().unwrap(), start + 3);
    store.remove_job("mail").unwrap();
    assert_eq!(store.jobs_version().unwrap(), start + 4);
    assert!(store.list_jobs().unwrap().is_empty());
}

#[test]
fn names_are_unique_and_unknown_names_say_how_to_list() {
    let store = Store::open_in_memory().unwrap();
    store.add_job(&every_job("mail")).unwrap();
    let exists = store.add_job(&every_job("mail")).unwrap_err();
    assert!(matches!(exists, StoreError::JobExists { .. }), "{exists}");
    for error in [
        store.remove_job("nope").unwrap_err(),
        store.pause_job("nope").unwrap_err(),
        store.job("nope").unwrap_err(),
    ] {
        assert!(matches!(error, StoreError::JobNotFound { .. }), "{error}");
        assert!(error.to_string().contains("hearth schedule list"));
    }
}

#[test]
fn a_run_request_is_taken_by_exactly_one_side() {
    let store = Store::open_in_memory().unwrap();
    let job = store.add_job(&every_job("mail")).unwrap();
    let at = "2026-12-05T10:00:00.000Z";
    store.request_run("mail", at).unwrap();
    let (due, _run) = store.take_run_request(job.id).unwrap().unwrap();
    assert_eq!(due, at);
    assert!(!store.withdraw_run_request("mail", at).unwrap());
    assert_eq!(store.take_run_request(job.id).unwrap(), None);

    store
        .request_run("mail", "2026-12-05T11:00:00.000Z")
        .unwrap();
    assert!(store
        .withdraw_run_request("mail", "2026-12-05T11:00:00.000Z")
        .unwrap());
    assert_eq!(store.take_run_request(job.id).unwrap(), None);
    let history = store.job_history("mail", 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].trigger, RunTrigger::Manual);
}

#[test]
fn named_sessions_are_remembered() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.named_session("briefing").unwrap(), None);
    store.set_named_session("briefing", "s1").unwrap();
    store.set_named_session("briefing", "s2").unwrap();
    assert_eq!(
        store.named_session("briefing").unwrap().as_deref(),
        Some("s2")
    );
}
