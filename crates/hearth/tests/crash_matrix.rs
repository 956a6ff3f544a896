//! The crash matrix (issue 20): `hearth run` killed with SIGKILL at spread-out moments of
//! a multi-step turn with side effects, then resumed. Every acknowledged message (the
//! `session_started` event seen) is in the store, no side effect runs twice (a call
//! killed mid-run is answered "interrupted", never re-run), and every session resumes
//! with a valid history (the scripted server checks each request's calls and results).
//!
//! The suite runs a small sample; `HEARTH_CRASH_TRIALS=1000` runs more and prints a JSON
//! summary to stderr (`bench/crash_matrix.py` does that).

use std::time::{Duration, Instant};

use hearth_testkit::{ScriptedCall, Step};
use tokio::io::AsyncBufReadExt;

use crate::common::*;

/// Trials the suite runs by default.
const SAMPLE: usize = 12;

/// Three side effects over two model steps, then an answer (shared with the serve matrix).
pub(crate) fn script() -> Vec<Step> {
    let effect = |id: &str| {
        ScriptedCall::new(
            format!("call_{id}"),
            "exec",
            format!(r#"{{"command":"echo {id} >> effects.txt && sleep 0.05"}}"#),
        )
    };
    vec![
        Step::tool_calls("", vec![effect("one")]),
        Step::tool_calls("Next.", vec![effect("two"), effect("three")]),
        Step::text("All done."),
    ]
}

/// How often each effect ran.
pub(crate) fn effect_counts(env: &TestEnv) -> [usize; 3] {
    let text = std::fs::read_to_string(env.workspace().join("effects.txt")).unwrap_or_default();
    ["one", "two", "three"].map(|id| text.lines().filter(|line| *line == id).count())
}

/// What one trial found.
#[derive(Debug, Default)]
struct Trial {
    effects: [usize; 3],
    acknowledged: bool,
    lost: bool,
    repeated: bool,
    resumed: bool,
}

async fn trial(delay: Duration) -> Trial {
    let flavor = ALL_FLAVORS[0];
    let mut env = TestEnv::start(script()).await;
    // Sandboxed, as by default: a command dies with Hearth (bwrap's --die-with-parent),
    // so nothing finishes after the kill and blurs what ran.
    let mut child = env.spawn(flavor, &["run", "--json", "do the three things"]);
    let events = child.stdout.take().expect("stdout");
    let reader = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(events).lines();
        let mut session = None;
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("\"session_started\"") {
                let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
                session = event["session_id"].as_str().map(str::to_string);
            }
        }
        session
    });
    tokio::time::sleep(delay).await;
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on a child we own.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    let _ = child.wait().await;
    let acknowledged = reader.await.ok().flatten();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = effect_counts(&env);

    let listed = env.hearth(flavor, &["sessions", "list", "--json"]).await;
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap_or_default();
    let stored = sessions.as_array().cloned().unwrap_or_default();
    let mut found = Trial {
        effects: before,
        acknowledged: acknowledged.is_some(),
        ..Trial::default()
    };
    found.repeated = found.effects.iter().any(|&n| n > 1);
    let Some(id) = stored
        .first()
        .and_then(|s| s["id"].as_str())
        .map(str::to_string)
    else {
        found.lost = found.acknowledged;
        found.resumed = true; // nothing was stored, so nothing needs resuming
        return found;
    };
    let shown = env
        .hearth(flavor, &["sessions", "show", "--json", &id])
        .await;
    found.lost = found.acknowledged && !stdout(&shown).contains("do the three things");

    env.restart_server(vec![Step::text("Carried on.")]).await;
    let resumed = env
        .hearth(flavor, &["run", "--resume", &id, "carry on"])
        .await;
    found.resumed = resumed.status.success();
    // Resuming runs nothing again: the model is told what was interrupted instead.
    found.repeated |= effect_counts(&env) != found.effects;
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_any_moment_nothing_acknowledged_is_lost_nor_run_twice() {
    let trials: usize = std::env::var("HEARTH_CRASH_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SAMPLE);
    // How long an uninterrupted run takes; kill points spread over it and a little past.
    let env = TestEnv::start(script()).await;
    let started = Instant::now();
    let whole = env
        .hearth(ALL_FLAVORS[0], &["run", "do the three things"])
        .await;
    assert!(whole.status.success(), "{}", stderr(&whole));
    assert_eq!(effect_counts(&env), [1, 1, 1]);
    let span = started.elapsed().mul_f64(1.2);
    drop(env);

    let mut summary = (0, 0, 0, 0);
    for i in 0..trials {
        // Evenly spread, with a small per-trial jitter so a larger run covers new moments.
        let fraction = (i as f64 + 0.5 + 0.3 * ((i * 7919) % 13) as f64 / 13.0) / trials as f64;
        let found = trial(span.mul_f64(fraction.min(1.0))).await;
        assert!(
            !found.lost,
            "trial {i}: an acknowledged message was lost: {found:?}"
        );
        assert!(
            !found.repeated,
            "trial {i}: a side effect ran twice: {found:?}"
        );
        assert!(
            found.resumed,
            "trial {i}: the session did not resume: {found:?}"
        );
        summary.0 += usize::from(found.acknowledged);
        summary.1 += usize::from(found.lost);
        summary.2 += usize::from(found.repeated);
        summary.3 += usize::from(found.resumed);
    }
    if std::env::var_os("HEARTH_CRASH_TRIALS").is_some() {
        eprintln!(
            "{}",
            serde_json::json!({
                "trials": trials,
                "acknowledged": summary.0,
                "lost_acknowledged_messages": summary.1,
                "side_effects_run_twice": summary.2,
                "resumed": summary.3,
                "run_ms": span.as_secs_f64() * 1000.0 / 1.2,
            })
        );
    }
}
