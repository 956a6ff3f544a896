//! `hearth serve` as a process: the listening line, /health, the token, the loopback
//! rule, a clean exit on SIGTERM, and SIGTERM mid-turn: what was acknowledged and the
//! finished steps are stored, and after a restart the session continues.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use hearth_testkit::{ScriptedCall, Step};
use serde_json::Value;

use crate::common::{stderr, stdout, TestEnv, ALL_FLAVORS};

/// `GET path` over a plain TCP connection; the whole response.
async fn http_get(addr: &str, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn serve_prints_where_it_listens_answers_health_and_exits_0_on_sigterm() {
    let env = TestEnv::start(vec![]).await;
    let mut child = env.spawn(ALL_FLAVORS[0], &["serve", "--listen", "127.0.0.1:0"]);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("a line within 60 s")
        .unwrap()
        .unwrap();
    let addr = line
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    assert!(!addr.ends_with(":0"), "the real port is printed: {line}");

    let health = http_get(&addr, "/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let sessions = http_get(&addr, "/api/sessions").await;
    assert!(sessions.starts_with("HTTP/1.1 401"), "{sessions}");

    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exited within 30 s")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn serve_prints_its_token_and_refuses_a_public_address_without_allow_remote() {
    let env = TestEnv::start(vec![]).await;
    let output = env
        .hearth(ALL_FLAVORS[0], &["serve", "--print-token"])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let token = stdout(&output).trim().to_string();
    assert_eq!(token.len(), 64, "{token}");
    let stored = std::fs::read_to_string(env.home.path().join("gateway.token")).unwrap();
    assert_eq!(stored.trim(), token);

    let output = env
        .hearth(ALL_FLAVORS[0], &["serve", "--listen", "0.0.0.0:0"])
        .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--allow-remote"),
        "{}",
        stderr(&output)
    );
}

const TOKEN: &str = "test-token-0123456789abcdef";

/// `hearth serve` on a free port with [`TOKEN`]; the child and its address.
async fn start_serve(env: &TestEnv) -> (tokio::process::Child, String) {
    let mut child = env
        .command("openai")
        .env("HEARTH_GATEWAY_TOKEN", TOKEN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .spawn()
        .expect("hearth serve started");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line within 60 s")
            .unwrap()
            .expect("serve printed where it listens");
        if let Some(addr) = line.strip_prefix("listening on http://") {
            break addr.to_string();
        }
    };
    // Keep reading stderr so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// `METHOD path` with the token and a JSON body over a plain TCP connection; the
/// response's head and body as text (an SSE body arrives whole once the turn ends).
async fn http_json(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// The JSON body of a whole (not chunked) response.
fn json_body(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("a body");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {response}"))
}

/// SIGTERM while a turn waits on the model: the process exits within the grace (10 s,
/// then the turn is cancelled), the user's message and the finished step (the tool call
/// and its result) are stored, and after a restart the same session continues with a
/// history the scripted server accepts (every call answered once: the CLI's `--resume`
/// rule, `Store::repair` closing what the stop left open).
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_turn_keeps_what_was_done_and_the_session_continues_after_restart() {
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "",
            vec![ScriptedCall::new(
                "call_1",
                "write_file",
                r#"{"path":"step.txt","content":"one"}"#,
            )],
        ),
        Step::hang(),
        Step::text("Resumed."),
    ])
    .await;
    let (mut child, addr) = start_serve(&env).await;
    let created = http_json(&addr, "POST", "/api/sessions", "{}").await;
    let session = json_body(&created)["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a session id: {created}"))
        .to_string();

    // The turn, streamed; read until its tool result is out, then stop the server.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"text":"write the step"}"#;
    let request = format!(
        "POST /api/sessions/{session}/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"tool_result\"") {
        let read = tokio::time::timeout(Duration::from_secs(60), stream.read(&mut buffer))
            .await
            .expect("events within 60 s")
            .unwrap();
        assert!(
            read > 0,
            "the stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exited within the grace and the cancel")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    drop(stream);
    assert_eq!(
        std::fs::read_to_string(env.workspace().join("step.txt")).unwrap(),
        "one"
    );

    let (mut child, addr) = start_serve(&env).await;
    let stored = json_body(&http_json(&addr, "GET", &format!("/api/sessions/{session}"), "").await);
    let stored_text = stored.to_string();
    assert!(stored_text.contains("write the step"), "{stored_text}");
    assert!(stored_text.contains("call_1"), "{stored_text}");

    let answer = http_json(
        &addr,
        "POST",
        &format!("/api/sessions/{session}/messages"),
        r#"{"text":"go on"}"#,
    )
    .await;
    assert!(answer.contains("Resumed."), "{answer}");
    let requests = env.server().requests();
    assert_eq!(requests.len(), 3, "the stalled call, then one more");
    let resent = requests[2].body.to_string();
    assert!(
        resent.contains("write the step") && resent.contains("call_1") && resent.contains("go on"),
        "the continued session carries the first turn: {resent}"
    );
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
}
