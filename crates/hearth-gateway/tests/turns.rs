//! Turns: streamed over SSE and seen on the WebSocket, one at a time per session, many
//! sessions at once, cancel, and a client that goes away mid-stream.

use hearth_testkit::Step;
use serde_json::Value;

use crate::common::{sse_events, Harness, RawWebSocket, TOKEN};

#[tokio::test]
async fn a_turn_streams_over_sse_and_is_seen_on_the_events_websocket() {
    let gateway = Harness::start(vec![Step::text("Hello from the gateway")]).await;
    let mut socket = RawWebSocket::open(
        gateway.addr,
        &format!("Sec-WebSocket-Protocol: hearth.events, bearer.{TOKEN}\r\n"),
    )
    .await;
    assert_eq!(socket.status, 101, "{}", socket.response_head);
    let session = gateway.new_session().await;

    let response = gateway.send(&session, "say hello").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = sse_events(&response.text().await.unwrap());
    assert_eq!(events[0]["type"], "session_started", "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "final", "{events:?}");
    assert_eq!(last["text"], "Hello from the gateway");
    assert_eq!(last["session_id"], session.as_str());

    let mut seen = Vec::new();
    loop {
        let message = socket.next_json().await;
        assert_eq!(message["session_id"], session.as_str());
        let kind = message["event"]["type"].as_str().unwrap().to_string();
        seen.push(kind.clone());
        if kind == "final" {
            assert_eq!(message["event"]["text"], "Hello from the gateway");
            break;
        }
    }
    assert_eq!(seen.len(), events.len(), "{seen:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn a_second_message_while_a_turn_runs_is_refused_with_409() {
    let gateway = Harness::start(vec![
        Step::text("slow answer").with_delay_ms(1500),
        Step::text("next"),
    ])
    .await;
    let session = gateway.new_session().await;
    let first = gateway.send(&session, "first").await;
    assert_eq!(first.status(), 200);

    let second = gateway.send(&session, "second").await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "turn_running");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cancel"));

    let events = sse_events(&first.text().await.unwrap());
    assert_eq!(events.last().unwrap()["text"], "slow answer");
    gateway.wait_idle().await;
    let third = gateway.send(&session, "third").await;
    assert_eq!(third.status(), 200);
    let events = sse_events(&third.text().await.unwrap());
    assert_eq!(events.last().unwrap()["text"], "next");
    gateway.stop().await;
}

#[tokio::test]
async fn two_sessions_run_turns_at_once() {
    let gateway = Harness::start(vec![
        Step::text("done").with_delay_ms(600),
        Step::text("done").with_delay_ms(600),
    ])
    .await;
    let (one, two) = (gateway.new_session().await, gateway.new_session().await);
    let first = gateway.send(&one, "task one").await;
    // The second starts while the first is still waiting for the model.
    let second = gateway.send(&two, "task two").await;
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    assert_eq!(gateway.state.sessions.running_turns(), 2);
    let (first, second) = tokio::join!(first.text(), second.text());
    for (body, session) in [(first.unwrap(), &one), (second.unwrap(), &two)] {
        let events = sse_events(&body);
        let last = events.last().unwrap();
        assert_eq!(last["type"], "final");
        assert_eq!(last["session_id"], session.as_str());
    }
    gateway.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_running_turn() {
    let gateway = Harness::start(vec![Step::hang()]).await;
    let session = gateway.new_session().await;
    let response = gateway.send(&session, "wait forever").await;
    assert_eq!(response.status(), 200);

    let cancelled: Value = gateway
        .post(&format!("/api/sessions/{session}/cancel"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["cancelled"], true);
    let events = sse_events(&response.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["type"], "final", "{events:?}");
    assert_eq!(last["end"]["kind"], "cancelled");

    let idle: Value = gateway
        .post(&format!("/api/sessions/{session}/cancel"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(idle["cancelled"], false);
    gateway.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_does_not_cancel_the_turn() {
    let gateway = Harness::start(vec![
        Step::text("the answer, stored anyway").with_delay_ms(800)
    ])
    .await;
    let session = gateway.new_session().await;
    let mut response = gateway.send(&session, "answer after I leave").await;
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("session_started"));
    drop(response);

    gateway.wait_idle().await;
    let transcript = gateway.transcript(&session).await;
    let messages = transcript["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{transcript}");
    assert!(
        messages[1]
            .to_string()
            .contains("the answer, stored anyway"),
        "{transcript}"
    );
    gateway.stop().await;
}
