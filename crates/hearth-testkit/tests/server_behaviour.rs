//! Errors, exhaustion, recording, dropped and hanging answers, and shutdown, checked
//! over real sockets with reqwest.

use crate::common;

use std::sync::{Arc, Mutex};

use common::{parse_sse, post, read_body};
use hearth_testkit::{RecordedRequest, Script, ScriptedServer, ServerOptions, Step, Wire};
use serde_json::{json, Value};

async fn start(steps: Vec<Step>) -> ScriptedServer {
    ScriptedServer::start(Script::new(steps)).await.unwrap()
}

fn openai_url(server: &ScriptedServer) -> String {
    format!("{}/chat/completions", server.openai_base_url())
}

fn anthropic_url(server: &ScriptedServer) -> String {
    format!("{}/v1/messages", server.base_url())
}

/// Waits (without a deadline: the test harness has one) until `count` requests arrived.
async fn until_recorded(server: &ScriptedServer, count: usize) {
    while server.requests().len() < count {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn http_errors_have_status_retry_after_and_the_providers_shape() {
    let step = Step::http_error(429, "Rate limited, slow down").with_retry_after(7);
    let server = start(vec![step.clone(), step, Step::http_error(500, "boom")]).await;

    let response = post(&openai_url(&server), &json!({"stream": true})).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Rate limited, slow down");
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    let response = post(&anthropic_url(&server), &json!({})).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"type": "error", "error": {"type": "rate_limit_error",
               "message": "Rate limited, slow down"}})
    );

    let response = post(&anthropic_url(&server), &json!({})).await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "api_error");
}

#[tokio::test]
async fn an_exhausted_script_answers_400_saying_so_on_both_wires() {
    let server = start(vec![Step::text("only one")]).await;
    post(&openai_url(&server), &json!({})).await;
    assert_eq!(server.remaining_steps(), 0);

    let response = post(&openai_url(&server), &json!({})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "scripted server: script exhausted after 1 steps"
    );
    let response = post(&anthropic_url(&server), &json!({"stream": true})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(
        body["error"]["message"],
        "scripted server: script exhausted after 1 steps"
    );
    assert_eq!(
        server.requests().len(),
        3,
        "exhausted requests are recorded too"
    );
}

#[tokio::test]
async fn records_bodies_headers_paths_and_wires_in_order() {
    let server = start(vec![Step::text("one"), Step::text("two")]).await;
    let client = reqwest::Client::new();
    let openai_body = json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]});
    client
        .post(openai_url(&server))
        .bearer_auth("sk-test")
        .json(&openai_body)
        .send()
        .await
        .unwrap();
    let anthropic_body = json!({"model": "claude", "max_tokens": 5, "messages": []});
    client
        .post(anthropic_url(&server))
        .header("x-api-key", "ak-test")
        .header("Anthropic-Version", "2023-06-01")
        .json(&anthropic_body)
        .send()
        .await
        .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].wire, Wire::OpenAi);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].body, openai_body);
    assert_eq!(requests[0].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(requests[1].wire, Wire::Anthropic);
    assert_eq!(requests[1].path, "/v1/messages");
    assert_eq!(requests[1].body, anthropic_body);
    assert_eq!(requests[1].header("x-api-key"), Some("ak-test"));
    let version = requests[1]
        .headers
        .iter()
        .find(|(name, _)| name == "anthropic-version");
    assert_eq!(
        version,
        Some(&("anthropic-version".to_string(), "2023-06-01".to_string())),
        "names are recorded lowercase"
    );
}

#[tokio::test]
async fn the_observer_sees_each_request_as_it_is_recorded() {
    let seen: Arc<Mutex<Vec<RecordedRequest>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let options = ServerOptions {
        port: 0,
        on_request: Some(Arc::new(move |request: &RecordedRequest| {
            sink.lock().unwrap().push(request.clone());
        })),
        responder: None,
    };
    let server = ScriptedServer::start_with(Script::new(vec![Step::text("x")]), options)
        .await
        .unwrap();
    post(&anthropic_url(&server), &json!({"n": 1})).await;
    assert_eq!(*seen.lock().unwrap(), server.requests());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_recorded_and_takes_no_step() {
    let server = start(vec![Step::text("still here")]).await;
    let response = reqwest::Client::new()
        .post(openai_url(&server))
        .body("not json{")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("not valid JSON"), "{message}");
    assert_eq!(server.requests()[0].body, json!("not json{"));
    assert_eq!(server.remaining_steps(), 1);
}

#[tokio::test]
async fn unknown_routes_get_a_404_that_lists_the_served_paths() {
    let server = start(vec![Step::text("unused")]).await;
    let response = post(&format!("{}/v1/completions", server.base_url()), &json!({})).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/messages"));
    assert!(server.requests().is_empty());
    assert_eq!(server.remaining_steps(), 1);
}

#[tokio::test]
async fn an_invalid_script_is_refused_at_start() {
    let script = Script::new(vec![Step::http_error(302, "redirect?")]);
    let error = ScriptedServer::start(script).await.err().unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("step 1 (http_error)"), "{error}");
}

#[tokio::test]
async fn a_dropped_openai_stream_ends_abruptly_without_done() {
    let server = start(vec![Step::drop_mid_stream("I was about to say")]).await;
    let response = post(&openai_url(&server), &json!({"stream": true})).await;
    assert_eq!(response.status(), 200);
    let (body, dropped) = read_body(response).await;
    assert!(dropped, "the body must end in an error, not cleanly");
    assert!(!body.contains("[DONE]"));
    assert!(!body.contains("finish_reason\":\"stop"));
    let text: String = parse_sse(&body)
        .iter()
        .filter_map(|e| {
            e.json()["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(text, "I was about to say");
}

#[tokio::test]
async fn a_dropped_anthropic_stream_ends_abruptly_without_message_stop() {
    let server = start(vec![Step::drop_mid_stream("Half an")]).await;
    let response = post(&anthropic_url(&server), &json!({"stream": true})).await;
    let (body, dropped) = read_body(response).await;
    assert!(dropped, "the body must end in an error, not cleanly");
    let events = parse_sse(&body);
    let names: Vec<&str> = events.iter().filter_map(|e| e.event.as_deref()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta"
        ]
    );
}

#[tokio::test]
async fn a_dropped_non_streamed_answer_fails_to_read() {
    let server = start(vec![Step::drop_mid_stream("unused")]).await;
    let response = post(&openai_url(&server), &json!({})).await;
    assert!(response.json::<Value>().await.is_err());
}

#[tokio::test]
async fn a_hanging_step_answers_only_when_the_server_shuts_down() {
    let server = start(vec![Step::hang()]).await;
    let url = anthropic_url(&server);
    let pending = tokio::spawn(async move { post(&url, &json!({})).await.status() });
    until_recorded(&server, 1).await;
    assert_eq!(server.remaining_steps(), 0);
    assert!(!pending.is_finished());
    server.shutdown().await;
    assert_eq!(pending.await.unwrap(), 503);
}

#[tokio::test]
async fn a_hang_with_text_streams_the_start_then_stalls_until_shutdown() {
    let server = start(vec![Step::Hang {
        text: "Thinking about".into(),
    }])
    .await;
    let mut response = post(&openai_url(&server), &json!({"stream": true})).await;
    let mut received = String::new();
    while !received.contains(" about") {
        let chunk = response.chunk().await.unwrap().unwrap();
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let rest = tokio::spawn(async move { read_body(response).await });
    assert!(!rest.is_finished());
    server.shutdown().await;
    let (tail, dropped) = rest.await.unwrap();
    assert!(dropped);
    assert!(!tail.contains("[DONE]"));
}

#[tokio::test]
async fn a_delayed_step_is_recorded_at_once_and_answered_later() {
    let server = start(vec![Step::text("eventually").with_delay_ms(600_000)]).await;
    let url = openai_url(&server);
    let pending = tokio::spawn(async move { post(&url, &json!({})).await.status() });
    until_recorded(&server, 1).await;
    assert!(!pending.is_finished());
    server.shutdown().await;
    assert_eq!(pending.await.unwrap(), 503, "shutdown cuts the delay short");
}

#[tokio::test]
async fn a_slow_stream_is_mid_answer_between_chunks() {
    let step = Step::text("one two three").with_chunk_delay_ms(600_000);
    let server = start(vec![step]).await;
    let mut response = post(&anthropic_url(&server), &json!({"stream": true})).await;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(std::str::from_utf8(&first)
        .unwrap()
        .starts_with("event: message_start\n"));
    let rest = tokio::spawn(async move { read_body(response).await });
    assert!(!rest.is_finished());
    server.shutdown().await;
    let (tail, dropped) = rest.await.unwrap();
    assert!(dropped, "shutdown aborts a stream mid-answer");
    assert!(!tail.contains("message_stop"));
}

#[tokio::test]
async fn delays_elapse_and_the_answer_arrives() {
    let step = Step::text("a b c").with_delay_ms(20).with_chunk_delay_ms(5);
    let server = start(vec![step]).await;
    let (body, dropped) =
        read_body(post(&openai_url(&server), &json!({"stream": true})).await).await;
    assert!(!dropped);
    assert!(body.ends_with("data: [DONE]\n\n"));
}
