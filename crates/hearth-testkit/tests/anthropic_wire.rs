//! The Anthropic Messages answers, checked over real sockets with reqwest.

use crate::common;

use common::{parse_sse, post, read_body, SseEvent};
use hearth_testkit::{Script, ScriptUsage, ScriptedCall, ScriptedServer, Step};
use serde_json::{json, Value};

async fn start(steps: Vec<Step>) -> (ScriptedServer, String) {
    let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
    let url = format!("{}/v1/messages", server.base_url());
    (server, url)
}

async fn stream_events(url: &str) -> Vec<SseEvent> {
    let body = json!({"model": "claude-test", "stream": true, "max_tokens": 100});
    let response = post(url, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (text, dropped) = read_body(response).await;
    assert!(!dropped);
    let events = parse_sse(&text);
    for event in &events {
        assert_eq!(
            event.event.as_deref(),
            event.json()["type"].as_str(),
            "event name matches data type"
        );
    }
    events
}

fn names(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn non_streamed_text_has_the_message_shape() {
    let usage = ScriptUsage {
        input_tokens: 50,
        output_tokens: 4,
        cached_tokens: 30,
    };
    let (_server, url) = start(vec![Step::text("All done.").with_usage(usage)]).await;
    let response = post(&url, &json!({"model": "claude-test", "max_tokens": 10})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-test");
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "All done."}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    assert_eq!(body["usage"]["input_tokens"], 50);
    assert_eq!(body["usage"]["output_tokens"], 4);
    assert_eq!(body["usage"]["cache_read_input_tokens"], 30);
}

#[tokio::test]
async fn non_streamed_tool_use_parses_arguments_or_falls_back_to_empty_input() {
    let calls = vec![
        ScriptedCall::new("toolu_1", "read_file", r#"{"path": "a.txt"}"#),
        ScriptedCall::new("toolu_2", "shell", r#"{"cmd": "#),
    ];
    let (_server, url) = start(vec![Step::tool_calls("Let me look.", calls)]).await;
    let body: Value = post(&url, &json!({})).await.json().await.unwrap();
    assert_eq!(
        body["content"],
        json!([
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.txt"}},
            {"type": "tool_use", "id": "toolu_2", "name": "shell", "input": {}},
        ])
    );
    assert_eq!(body["stop_reason"], "tool_use");
}

#[tokio::test]
async fn streamed_text_follows_the_event_sequence() {
    let usage = ScriptUsage {
        input_tokens: 77,
        output_tokens: 5,
        cached_tokens: 0,
    };
    let (_server, url) = start(vec![Step::text("Hi from the script.").with_usage(usage)]).await;
    let events = stream_events(&url).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let start = events[0].json();
    assert_eq!(start["message"]["usage"]["input_tokens"], 77);
    assert_eq!(start["message"]["model"], "claude-test");
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..7]
        .iter()
        .map(|event| {
            let delta = event.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "Hi from the script.");
    let message_delta = events[8].json();
    assert_eq!(message_delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(message_delta["usage"]["output_tokens"], 5);
}

#[tokio::test]
async fn streamed_tool_use_sends_raw_argument_fragments_even_when_broken() {
    let valid = r#"{"path": "notes/todo.md"}"#;
    let broken = r#"{"command": "echo hi"#;
    let calls = vec![
        ScriptedCall::new("toolu_a", "read_file", valid),
        ScriptedCall::new("toolu_b", "shell", broken),
    ];
    let (_server, url) = start(vec![Step::tool_calls("", calls)]).await;
    let events = stream_events(&url).await;

    let mut blocks: Vec<(Value, String, bool)> = Vec::new();
    for event in &events {
        let data = event.json();
        match data["type"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(data["index"], blocks.len());
                blocks.push((data["content_block"].clone(), String::new(), false));
            }
            "content_block_delta" => {
                let block = &mut blocks[data["index"].as_u64().unwrap() as usize];
                assert_eq!(data["delta"]["type"], "input_json_delta");
                block
                    .1
                    .push_str(data["delta"]["partial_json"].as_str().unwrap());
            }
            "content_block_stop" => blocks[data["index"].as_u64().unwrap() as usize].2 = true,
            _ => {}
        }
    }
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        blocks[0].0,
        json!({"type": "tool_use", "id": "toolu_a", "name": "read_file", "input": {}})
    );
    assert_eq!(blocks[1].0["id"], "toolu_b");
    assert_eq!(blocks[0].1, valid);
    assert_eq!(blocks[1].1, broken);
    assert!(blocks.iter().all(|block| block.2), "every block stops");

    let fragments = events
        .iter()
        .filter(|e| e.json()["index"] == 1 && e.json()["type"] == "content_block_delta")
        .filter(|e| e.json()["delta"]["partial_json"] != "")
        .count();
    assert!((2..=3).contains(&fragments), "{fragments} fragments");
    let message_delta = events[events.len() - 2].json();
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(names(&events).last(), Some(&"message_stop"));
}
