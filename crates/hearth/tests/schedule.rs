//! `hearth schedule` and `hearth serve` as processes: jobs added by the CLI while a
//! gateway runs are picked up, pause and resume, a one-off job whose gateway was
//! SIGKILLed before its time runs exactly once after a restart, a run cut off by
//! SIGKILL is marked interrupted and not re-run, `run` without a gateway runs in
//! process, and the CLI's errors.

use std::time::Duration;

use hearth_testkit::Step;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::common::{stderr, stdout, TestEnv, ALL_FLAVORS};

/// `hearth serve` on a free port; returns once it listens (its stderr drained after).
async fn start_gateway(env: &TestEnv) -> Child {
    let mut child = env.spawn(ALL_FLAVORS[0], &["serve", "--listen", "127.0.0.1:0"]);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a line within 60 s")
        .unwrap()
        .unwrap();
    assert!(line.starts_with("listening on http://"), "{line}");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

async fn sigkill(child: &mut Child) {
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

async fn sigterm(child: &mut Child) {
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exited within 30 s")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

async fn schedule(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut all = vec!["schedule"];
    all.extend_from_slice(args);
    env.hearth(ALL_FLAVORS[0], &all).await
}

async fn schedule_ok(env: &TestEnv, args: &[&str]) -> String {
    let output = schedule(env, args).await;
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    stdout(&output)
}

/// The job's runs, oldest first.
async fn history(env: &TestEnv, name: &str) -> Vec<Value> {
    let text = schedule_ok(env, &["history", name, "--json", "--limit", "1000"]).await;
    let mut runs: Vec<Value> = serde_json::from_str(&text).unwrap();
    runs.reverse();
    runs
}

/// Waits (bounded) until the job's runs satisfy `done`.
async fn wait_for_history(
    env: &TestEnv,
    name: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    for _ in 0..300 {
        let runs = history(env, name).await;
        if done(&runs) {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}: never happened: {:?}", history(env, name).await);
}

fn finished(run: &Value) -> bool {
    !matches!(run["outcome"].as_str(), Some("claimed" | "running"))
}

/// Waits until the wall clock has passed `time` (RFC 3339).
async fn wait_past(time: &str) {
    let time: jiff::Timestamp = time.parse().unwrap();
    while jiff::Timestamp::now() <= time {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_added_by_the_cli_is_picked_up_paused_and_resumed() {
    let env = TestEnv::start((0..12).map(|n| Step::text(format!("tick {n}"))).collect()).await;
    let mut gateway = start_gateway(&env).await;
    schedule_ok(
        &env,
        &["add", "tick", "--every", "2s", "--prompt", "tick tock"],
    )
    .await;
    let listed: Vec<Value> =
        serde_json::from_str(&schedule_ok(&env, &["list", "--json"]).await).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "tick");
    assert_eq!(listed[0]["schedule"], "every 2s");
    assert_eq!(listed[0]["enabled"], true);
    assert_eq!(listed[0]["origin"], "cli");
    assert!(listed[0]["next_run"].is_string());

    let runs = wait_for_history(&env, "tick", |runs| {
        runs.len() >= 2 && runs.iter().all(finished)
    })
    .await;
    assert!(runs.iter().all(|run| run["outcome"] == "ok"), "{runs:?}");
    assert!(env.server().requests().len() >= 2);

    schedule_ok(&env, &["pause", "tick"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused = history(&env, "tick").await.len();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        history(&env, "tick").await.len(),
        paused,
        "no run while paused"
    );
    let listed: Vec<Value> =
        serde_json::from_str(&schedule_ok(&env, &["list", "--json"]).await).unwrap();
    assert_eq!(listed[0]["enabled"], false);
    assert!(listed[0]["last_run"].is_string());

    schedule_ok(&env, &["resume", "tick"]).await;
    wait_for_history(&env, "tick", |runs| runs.len() > paused).await;
    let asked = schedule(&env, &["run", "tick"]).await;
    assert!(
        stderr(&asked).contains("a running gateway took the run"),
        "{}",
        stderr(&asked)
    );
    schedule_ok(&env, &["rm", "tick"]).await;
    sigterm(&mut gateway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_at_job_whose_gateway_was_killed_before_its_time_runs_once_after_restart() {
    let env = TestEnv::start(vec![Step::text("reminder sent"), Step::text("never asked")]).await;
    let mut gateway = start_gateway(&env).await;
    schedule_ok(
        &env,
        &["add", "remind", "--at", "+3s", "--prompt", "remind me"],
    )
    .await;
    let listed: Vec<Value> =
        serde_json::from_str(&schedule_ok(&env, &["list", "--json"]).await).unwrap();
    let due = listed[0]["next_run"].as_str().unwrap().to_string();
    sigkill(&mut gateway).await;
    wait_past(&due).await;
    assert!(history(&env, "remind").await.is_empty());
    assert_eq!(env.server().requests().len(), 0);

    let mut gateway = start_gateway(&env).await;
    let runs = wait_for_history(&env, "remind", |runs| runs.first().is_some_and(finished)).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["due"], due.as_str());
    assert_eq!(runs[0]["trigger"], "catch_up");
    assert_eq!(runs[0]["outcome"], "ok");
    sigterm(&mut gateway).await;

    // Another restart runs nothing again.
    let mut gateway = start_gateway(&env).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sigterm(&mut gateway).await;
    assert_eq!(history(&env, "remind").await.len(), 1);
    assert_eq!(env.server().requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_off_by_sigkill_is_marked_interrupted_and_not_rerun() {
    let env = TestEnv::start(vec![Step::hang(), Step::text("must not be asked")]).await;
    let mut gateway = start_gateway(&env).await;
    schedule_ok(
        &env,
        &["add", "slow", "--at", "+1s", "--prompt", "take your time"],
    )
    .await;
    let runs = wait_for_history(&env, "slow", |runs| {
        runs.first().is_some_and(|run| run["outcome"] == "running")
    })
    .await;
    for _ in 0..200 {
        if !env.server().requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        env.server().requests().len(),
        1,
        "the model call is under way"
    );
    sigkill(&mut gateway).await;
    assert_eq!(history(&env, "slow").await[0]["outcome"], "running");

    let mut gateway = start_gateway(&env).await;
    let after = wait_for_history(&env, "slow", |runs| {
        runs.first().is_some_and(|run| run["outcome"] != "running")
    })
    .await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["outcome"], "interrupted");
    assert_eq!(after[0]["due"], runs[0]["due"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sigterm(&mut gateway).await;
    assert_eq!(history(&env, "slow").await.len(), 1);
    assert_eq!(env.server().requests().len(), 1, "not re-run");
}

#[tokio::test]
async fn run_without_a_gateway_runs_in_process_and_history_shows_it() {
    let env = TestEnv::start(vec![Step::text("done by hand")]).await;
    schedule_ok(
        &env,
        &[
            "add",
            "weekly",
            "--cron",
            "0 9 * * 1",
            "--tz",
            "Europe/Berlin",
            "--prompt",
            "plan the week",
        ],
    )
    .await;
    let output = schedule(&env, &["run", "weekly"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("running it here"),
        "{}",
        stderr(&output)
    );
    let runs = history(&env, "weekly").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["trigger"], "manual");
    assert_eq!(runs[0]["outcome"], "ok");
    let session = runs[0]["session_id"].as_str().unwrap();
    let shown = env
        .hearth(ALL_FLAVORS[0], &["sessions", "show", session])
        .await;
    assert!(
        stdout(&shown).contains("done by hand"),
        "{}",
        stdout(&shown)
    );
    let listed: Vec<Value> =
        serde_json::from_str(&schedule_ok(&env, &["list", "--json"]).await).unwrap();
    assert_eq!(listed[0]["schedule"], "cron 0 9 * * 1 Europe/Berlin");
    assert_eq!(listed[0]["last_outcome"], "ok");
}

#[tokio::test]
async fn the_cli_says_what_is_wrong() {
    let env = TestEnv::start(vec![]).await;
    let cases: [(&[&str], &str); 9] = [
        (&["rm", "nope"], "hearth schedule list"),
        (&["run", "nope"], "no scheduled job is called 'nope'"),
        (
            &["add", "a", "--cron", "61 * * * *", "--prompt", "p"],
            "cron expression",
        ),
        (
            &[
                "add",
                "a",
                "--cron",
                "0 8 * * *",
                "--tz",
                "Mars/Olympus",
                "--prompt",
                "p",
            ],
            "unknown time zone",
        ),
        (
            &["add", "a", "--at", "2020-01-01T00:00:00Z", "--prompt", "p"],
            "in the past",
        ),
        (
            &["add", "a", "--every", "5x", "--prompt", "p"],
            "not a duration",
        ),
        (
            &[
                "add",
                "a",
                "--every",
                "5m",
                "--prompt",
                "p",
                "--deliver",
                "slack:42",
            ],
            "unknown target 'slack'",
        ),
        (
            &[
                "add",
                "a",
                "--every",
                "5m",
                "--prompt",
                "p",
                "--deliver",
                "telegram:",
            ],
            "no chat after 'telegram:'",
        ),
        (
            &["add", "bad name", "--every", "5m", "--prompt", "p"],
            "not a job name",
        ),
    ];
    for (args, expected) in cases {
        let output = schedule(&env, args).await;
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    schedule_ok(&env, &["add", "a", "--every", "5m", "--prompt", "p"]).await;
    // A chat of a channel kind is a target (whether the chat may be written to is
    // checked when the run delivers).
    schedule_ok(
        &env,
        &[
            "add",
            "to-chat",
            "--every",
            "5m",
            "--prompt",
            "p",
            "--deliver",
            "telegram:42",
        ],
    )
    .await;
    let output = schedule(&env, &["add", "a", "--every", "5m", "--prompt", "p"]).await;
    assert!(
        stderr(&output).contains("exists already"),
        "{}",
        stderr(&output)
    );
    let output = schedule(
        &env,
        &["add", "b", "--every", "5m", "--at", "+1m", "--prompt", "p"],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[tokio::test]
async fn a_run_stopped_by_a_budget_is_recorded_as_such() {
    let env = TestEnv::start(vec![Step::text("too expensive")]).await;
    env.write_config(
        "[models.\"openai:scripted-model\"]\ninput_usd_per_mtok = 1000000.0\n\
         [budget]\ndaily_usd = 0.01\n",
    );
    schedule_ok(
        &env,
        &["add", "pricey", "--every", "1d", "--prompt", "spend a lot"],
    )
    .await;
    let output = schedule(&env, &["run", "pricey"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let runs = history(&env, "pricey").await;
    assert_eq!(runs[0]["outcome"], "budget", "{runs:?}");
    assert!(runs[0]["detail"]
        .as_str()
        .unwrap()
        .contains("[budget] daily_usd"));
    assert_eq!(env.server().requests().len(), 0, "the call was never sent");
}
