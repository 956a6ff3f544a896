//! Auth, Origin, sessions and bad input over real HTTP.

use serde_json::{json, Value};

use crate::common::{Harness, RawWebSocket, TOKEN};

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_token() {
    let gateway = Harness::start(vec![]).await;
    let health = gateway.get_without_token("/health").send().await.unwrap();
    assert_eq!(health.status(), 200);

    let missing = gateway
        .get_without_token("/api/sessions")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Bearer"));

    let wrong = gateway
        .get_without_token("/api/sessions")
        .bearer_auth("test-token-0123456789abcdeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let right = gateway.get("/api/sessions").send().await.unwrap();
    assert_eq!(right.status(), 200);
    gateway.stop().await;
}

#[tokio::test]
async fn a_page_from_another_origin_is_refused_over_http_and_websocket() {
    let gateway = Harness::start(vec![]).await;
    let foreign = gateway
        .get("/api/sessions")
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(body["error"]["code"], "foreign_origin");

    let own = gateway
        .get("/api/sessions")
        .header(
            "Origin",
            format!("http://localhost:{}", gateway.addr.port()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);

    // The cross-site WebSocket hijack: a valid token in the subprotocol, a foreign page.
    let hijack = RawWebSocket::open(
        gateway.addr,
        &format!(
            "Origin: http://evil.example\r\nSec-WebSocket-Protocol: hearth.events, bearer.{TOKEN}\r\n"
        ),
    )
    .await;
    assert_eq!(hijack.status, 403, "{}", hijack.response_head);

    let no_token = RawWebSocket::open(gateway.addr, "").await;
    assert_eq!(no_token.status, 401, "{}", no_token.response_head);

    let own_page = RawWebSocket::open(
        gateway.addr,
        &format!(
            "Origin: {}\r\nSec-WebSocket-Protocol: hearth.events, bearer.{TOKEN}\r\n",
            gateway.base
        ),
    )
    .await;
    assert_eq!(own_page.status, 101, "{}", own_page.response_head);
    assert!(
        own_page
            .response_head
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: hearth.events"),
        "{}",
        own_page.response_head
    );
    gateway.stop().await;
}

/// `--origin` / `[gateway] origins`: a phone on the LAN opens the UI on the machine's
/// address; that origin passes once listed, any other still gets 403.
#[tokio::test]
async fn a_listed_lan_origin_passes_and_an_unlisted_one_is_refused() {
    let lan = "http://192.168.1.5:8420";
    let gateway = Harness::start_with(vec![], Default::default(), |settings| {
        settings.extra_origins = vec![lan.to_string()];
    })
    .await;
    let status = |origin: &'static str| {
        let request = gateway.get("/api/sessions").header("Origin", origin);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(lan).await, 200);
    assert_eq!(status("http://192.168.1.6:8420").await, 403);
    assert_eq!(status("http://192.168.1.5:8421").await, 403);
    let websocket = RawWebSocket::open(
        gateway.addr,
        &format!("Origin: {lan}\r\nSec-WebSocket-Protocol: hearth.events, bearer.{TOKEN}\r\n"),
    )
    .await;
    assert_eq!(websocket.status, 101, "{}", websocket.response_head);
    gateway.stop().await;

    // The default stays loopback-only: the same LAN origin is refused.
    let default = Harness::start(vec![]).await;
    let refused = default
        .get("/api/sessions")
        .header("Origin", lan)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    default.stop().await;
}

#[tokio::test]
async fn bad_input_answers_400_413_and_404_with_json_errors() {
    let gateway = Harness::start(vec![]).await;
    let session = gateway.new_session().await;
    let path = format!("/api/sessions/{session}/messages");

    let malformed = gateway
        .post(&path)
        .header("content-type", "application/json")
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    let wrong_field = gateway.post_json(&path, &json!({ "txt": "hello" })).await;
    assert_eq!(wrong_field.status(), 400);
    let body: Value = wrong_field.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("text"),
        "{body}"
    );

    let wrong_type = gateway.post_json(&path, &json!({ "text": 5 })).await;
    assert_eq!(wrong_type.status(), 400);

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_large = gateway.post_json(&path, &json!({ "text": huge })).await;
    assert_eq!(too_large.status(), 413);
    let body: Value = too_large.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    let unknown = "0190abcd-0000-7000-8000-000000000000";
    for response in [
        gateway
            .get(&format!("/api/sessions/{unknown}"))
            .send()
            .await
            .unwrap(),
        gateway
            .post_json(
                &format!("/api/sessions/{unknown}/messages"),
                &json!({ "text": "hi" }),
            )
            .await,
        gateway
            .post(&format!("/api/sessions/{unknown}/cancel"))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "session_not_found");
    }

    let no_approval = gateway
        .post_json("/api/approvals/nope", &json!({ "decision": "approve" }))
        .await;
    assert_eq!(no_approval.status(), 404);
    let bad_decision = gateway
        .post_json("/api/approvals/nope", &json!({ "decision": "maybe" }))
        .await;
    assert_eq!(bad_decision.status(), 400);

    let bad_model = gateway
        .post_json("/api/sessions", &json!({ "model": "no-provider" }))
        .await;
    assert_eq!(bad_model.status(), 400);
    gateway.stop().await;
}

#[tokio::test]
async fn sessions_are_created_listed_and_deleted() {
    let gateway = Harness::start(vec![]).await;
    let created = gateway
        .post_json("/api/sessions", &json!({ "title": "groceries" }))
        .await;
    assert_eq!(created.status(), 201);
    let session: Value = created.json().await.unwrap();
    assert_eq!(session["title"], "groceries");
    assert_eq!(session["model"], "openai:scripted-model");
    let id = session["id"].as_str().unwrap();

    let list: Value = gateway.get_json("/api/sessions").await;
    assert_eq!(list["sessions"][0]["id"], id);

    let deleted = gateway
        .delete(&format!("/api/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = gateway
        .get(&format!("/api/sessions/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    gateway.stop().await;
}

#[tokio::test]
async fn a_websocket_client_that_floods_is_closed() {
    let gateway = Harness::start(vec![]).await;
    let mut socket = RawWebSocket::open(
        gateway.addr,
        &format!("Sec-WebSocket-Protocol: hearth.events, bearer.{TOKEN}\r\n"),
    )
    .await;
    assert_eq!(socket.status, 101);
    for _ in 0..200 {
        if socket.send_text("spam").await.is_err() {
            break;
        }
    }
    assert_eq!(socket.close_code().await, Some(1008));
    gateway.stop().await;
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let gateway = Harness::start_with(vec![], Default::default(), |settings| {
        settings.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let bound = std::time::Duration::from_secs(20);

    // A request head that never finishes.
    let mut slow = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(bound, slow.read_to_end(&mut rest))
        .await
        .expect("the slow connection was closed")
        .ok();

    // A kept-alive connection that goes quiet after one request.
    let mut idle = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(bound, idle.read_to_end(&mut answer))
        .await
        .expect("the idle connection was closed")
        .ok();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    gateway.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_a_running_turn_finish() {
    let gateway = Harness::start(vec![
        hearth_testkit::Step::text("finished").with_delay_ms(500)
    ])
    .await;
    let session = gateway.new_session().await;
    let response = gateway.send(&session, "finish before you go").await;
    assert_eq!(response.status(), 200);
    let addr = gateway.addr;
    let body = tokio::spawn(response.text());
    let home = gateway.stop_keeping_home().await;
    let events = crate::common::sse_events(&body.await.unwrap().unwrap());
    assert_eq!(events.last().unwrap()["text"], "finished");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let store = hearth_store::Store::open(&home.path().join("state.db")).unwrap();
    assert_eq!(store.messages(&session).unwrap().len(), 2);
}
