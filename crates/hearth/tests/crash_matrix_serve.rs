//! The crash matrix for `hearth serve` (issue 20): a multi-step turn with side effects
//! started through the HTTP API, the gateway killed with SIGKILL at spread-out moments,
//! restarted, and the session continued through the API. Every acknowledged message (the
//! turn request answered 200, or its `session_started` event seen; a session whose
//! creation was answered) is in the store, no side effect runs twice (a call killed
//! mid-run is answered "interrupted", never re-run), and every session continues with a
//! valid history (the scripted server checks each request's calls and results).
//!
//! The suite runs a small sample; `HEARTH_SERVE_CRASH_TRIALS=200` runs more and prints a
//! JSON summary to stderr (`bench/crash_matrix.py --serve` does that).

use std::time::{Duration, Instant};

use hearth_testkit::Step;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::TestEnv;
use crate::crash_matrix::{effect_counts, script};

/// Trials the suite runs by default.
const SAMPLE: usize = 10;

const TOKEN: &str = "crash-matrix-token-0123456789abcdef";

const PROMPT: &str = "do the three things";

/// `hearth serve` on a free port; the child and its address.
async fn start_serve(env: &TestEnv) -> (tokio::process::Child, String) {
    let mut child = env
        .command("openai")
        .env("HEARTH_GATEWAY_TOKEN", TOKEN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .expect("hearth serve started");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line within 60 s")
            .expect("stderr readable")
            .expect("serve printed where it listens");
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_string();
        }
    };
    // Keep reading stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

fn request_bytes(addr: &str, method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `METHOD path` with a JSON body; the whole response (an SSE body once the turn ends).
async fn http(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&request_bytes(addr, method, path, body))
        .await
        .expect("request sent");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut response))
        .await
        .expect("a response within 120 s");
    String::from_utf8_lossy(&response).into_owned()
}

/// What the client of a killed turn was told: the turn request answered 200, and the
/// `session_started` event seen.
#[derive(Debug, Default, Clone, Copy)]
struct Told {
    answered: bool,
    started: bool,
}

/// Sends the turn and reads its stream until the connection ends.
async fn stream_turn(addr: String, session: String) -> Told {
    let mut told = Told::default();
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        return told;
    };
    let path = format!("/api/sessions/{session}/messages");
    let body = serde_json::json!({ "text": PROMPT }).to_string();
    if stream
        .write_all(&request_bytes(&addr, "POST", &path, &body))
        .await
        .is_err()
    {
        return told;
    }
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        seen.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&seen);
        told.answered = text.starts_with("HTTP/1.1 200");
        told.started = text.contains("\"session_started\"");
    }
    told
}

/// What one trial found.
#[derive(Debug, Default)]
struct Trial {
    effects: [usize; 3],
    told: Told,
    lost: bool,
    repeated: bool,
    resumed: bool,
}

fn kill(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on a child we own.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

async fn trial(delay: Duration) -> Trial {
    let mut env = TestEnv::start(script()).await;
    let (mut child, addr) = start_serve(&env).await;
    let created = http(&addr, "POST", "/api/sessions", "{}").await;
    let session = created
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|body| body["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("a session id: {created}"));
    // Sandboxed, as by default: a command dies with the gateway (bwrap's
    // --die-with-parent), so nothing finishes after the kill and blurs what ran.
    let client = tokio::spawn(stream_turn(addr, session.clone()));
    tokio::time::sleep(delay).await;
    kill(&child);
    let _ = child.wait().await;
    let told = client.await.unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut found = Trial {
        effects: effect_counts(&env),
        told,
        ..Trial::default()
    };
    found.repeated = found.effects.iter().any(|&n| n > 1);

    env.restart_server(vec![Step::text("Carried on.")]).await;
    let (child, addr) = start_serve(&env).await;
    let stored = http(&addr, "GET", &format!("/api/sessions/{session}"), "").await;
    // The session's creation was answered, so the session itself must be there.
    found.lost = !stored.starts_with("HTTP/1.1 200")
        || ((told.answered || told.started) && !stored.contains(PROMPT));
    let path = format!("/api/sessions/{session}/messages");
    let resumed = http(&addr, "POST", &path, r#"{"text":"carry on"}"#).await;
    found.resumed = resumed.starts_with("HTTP/1.1 200") && resumed.contains("Carried on.");
    // Continuing runs nothing again: the model is told what was interrupted instead.
    found.repeated |= effect_counts(&env) != found.effects;
    kill(&child);
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_killed_at_any_moment_loses_nothing_acknowledged_and_runs_nothing_twice() {
    let trials: usize = std::env::var("HEARTH_SERVE_CRASH_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SAMPLE);
    // How long an uninterrupted turn takes through the API; kill points spread over it
    // and a little past.
    let env = TestEnv::start(script()).await;
    let (child, addr) = start_serve(&env).await;
    let created = http(&addr, "POST", "/api/sessions", "{}").await;
    let session = created
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|body| body["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("a session id: {created}"));
    let started = Instant::now();
    let told = stream_turn(addr, session).await;
    let span = started.elapsed().mul_f64(1.2);
    assert!(told.answered && told.started, "{told:?}");
    assert_eq!(effect_counts(&env), [1, 1, 1]);
    kill(&child);
    drop(env);

    let mut summary = (0, 0, 0, 0, 0);
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
            "trial {i}: the session did not continue: {found:?}"
        );
        summary.0 += usize::from(found.told.answered);
        summary.1 += usize::from(found.told.started);
        summary.2 += usize::from(found.lost);
        summary.3 += usize::from(found.repeated);
        summary.4 += usize::from(found.resumed);
    }
    if std::env::var_os("HEARTH_SERVE_CRASH_TRIALS").is_some() {
        eprintln!(
            "{}",
            serde_json::json!({
                "target": "serve",
                "trials": trials,
                "answered": summary.0,
                "session_started_seen": summary.1,
                "lost_acknowledged_messages": summary.2,
                "side_effects_run_twice": summary.3,
                "resumed": summary.4,
                "turn_ms": span.as_secs_f64() * 1000.0 / 1.2,
            })
        );
    }
}
