//! `hearth serve` as a process: the listening line, /health, the token, the loopback
//! rule, and a clean exit on SIGTERM.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

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
