//! The OpenAI Chat Completions answers, checked over real sockets with reqwest.

use crate::common;

use common::{parse_sse, post, read_body};
use hearth_testkit::{Script, ScriptUsage, ScriptedCall, ScriptedServer, Step, Wire};
use serde_json::{json, Value};

fn usage(input: u64, output: u64, cached: u64) -> ScriptUsage {
    ScriptUsage {
        input_tokens: input,
        output_tokens: output,
        cached_tokens: cached,
    }
}

async fn start(steps: Vec<Step>) -> (ScriptedServer, String) {
    let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
    let url = format!("{}/chat/completions", server.openai_base_url());
    (server, url)
}

/// Reassembles streamed tool calls the way a client does: by index.
fn assemble_tool_calls(chunks: &[Value]) -> Vec<(String, String, String)> {
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for chunk in chunks {
        let Some(deltas) = chunk.pointer("/choices/0/delta/tool_calls") else {
            continue;
        };
        for delta in deltas.as_array().unwrap() {
            let index = delta["index"].as_u64().unwrap() as usize;
            if let Some(id) = delta.get("id") {
                assert_eq!(index, calls.len(), "calls start in index order");
                assert_eq!(delta["type"], "function");
                assert_eq!(delta["function"]["arguments"], "");
                let name = delta["function"]["name"].as_str().unwrap();
                calls.push((id.as_str().unwrap().into(), name.into(), String::new()));
            } else {
                assert_eq!(
                    index + 1,
                    calls.len(),
                    "fragments follow their call's start"
                );
                let keys: Vec<&String> = delta.as_object().unwrap().keys().collect();
                assert_eq!(keys, ["function", "index"], "a fragment carries only these");
                let fragment = delta["function"]["arguments"].as_str().unwrap();
                calls[index].2.push_str(fragment);
            }
        }
    }
    calls
}

fn data_payloads(body: &str) -> Vec<String> {
    let events = parse_sse(body);
    assert!(events.iter().all(|event| event.event.is_none()));
    events.into_iter().map(|event| event.data).collect()
}

#[tokio::test]
async fn non_streamed_text_has_the_chat_completion_shape() {
    let step = Step::text("Hello there.").with_usage(usage(120, 3, 100));
    let (server, url) = start(vec![step]).await;
    let response = post(&url, &json!({"model": "gpt-test", "messages": []})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-test");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().is_some());
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello there.");
    assert!(choice["message"].get("tool_calls").is_none());
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 120, "completion_tokens": 3, "total_tokens": 123,
               "prompt_tokens_details": {"cached_tokens": 100}})
    );
    assert_eq!(server.remaining_steps(), 0);
}

#[tokio::test]
async fn non_streamed_tool_calls_carry_raw_arguments_and_null_content() {
    let calls = vec![
        ScriptedCall::new("call_1", "read_file", r#"{"path":"a.txt"}"#),
        ScriptedCall::new("call_2", "shell", r#"{"cmd": "ls"#),
    ];
    let (_server, url) = start(vec![Step::tool_calls("", calls)]).await;
    let body: Value = post(&url, &json!({"messages": []}))
        .await
        .json()
        .await
        .unwrap();

    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(
        message["tool_calls"],
        json!([
            {"id": "call_1", "type": "function",
             "function": {"name": "read_file", "arguments": "{\"path\":\"a.txt\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "shell", "arguments": "{\"cmd\": \"ls"}},
        ])
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["model"], "scripted-model");
    let usage = &body["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() >= 1);
    assert!(usage["completion_tokens"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn streamed_text_arrives_word_by_word_and_ends_with_done() {
    let (_server, url) = start(vec![Step::text("The quick brown fox.")]).await;
    let response = post(&url, &json!({"stream": true, "messages": []})).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (body, dropped) = read_body(response).await;
    assert!(!dropped);

    let payloads = data_payloads(&body);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|piece| !piece.is_empty())
        .collect();
    assert_eq!(pieces, ["The", " quick", " brown", " fox."]);

    let finish = chunks.last().unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    let earlier_finishes = chunks[..chunks.len() - 1]
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .count();
    assert_eq!(earlier_finishes, 0);
}

#[tokio::test]
async fn streamed_parallel_tool_calls_reassemble_to_the_scripted_arguments() {
    let first = r#"{"path": "src/main.rs", "limit": 200}"#;
    let second = r#"{"command": "cargo te"#;
    let calls = vec![
        ScriptedCall::new("call_a", "read_file", first),
        ScriptedCall::new("call_b", "shell", second),
    ];
    let (_server, url) = start(vec![Step::tool_calls("Checking.", calls)]).await;
    let (body, _) = read_body(post(&url, &json!({"stream": true})).await).await;
    let payloads = data_payloads(&body);
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();

    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Checking.");
    let calls = assemble_tool_calls(&chunks);
    assert_eq!(
        calls,
        [
            ("call_a".into(), "read_file".into(), first.into()),
            ("call_b".into(), "shell".into(), second.into()),
        ]
    );
    for index in 0..2 {
        let fragments = chunks
            .iter()
            .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
            .filter(|d| d["index"] == index && d.get("id").is_none())
            .count();
        assert!((2..=3).contains(&fragments), "{fragments} fragments");
    }
    let finish = chunks.last().unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn a_text_less_tool_call_stream_opens_with_role_on_the_call() {
    let step = Step::tool_call("call_1", "list_dir", "{}");
    let (_server, url) = start(vec![step]).await;
    let (body, _) = read_body(post(&url, &json!({"stream": true})).await).await;
    let first: Value = serde_json::from_str(&data_payloads(&body)[0]).unwrap();
    let delta = &first["choices"][0]["delta"];
    assert_eq!(delta["role"], "assistant");
    assert_eq!(delta["tool_calls"][0]["id"], "call_1");
}

#[tokio::test]
async fn the_usage_chunk_comes_only_when_asked_for() {
    let step = Step::text("Fine.").with_usage(usage(40, 2, 8));
    let (_server, url) = start(vec![step.clone(), step]).await;

    let asked = json!({"stream": true, "stream_options": {"include_usage": true}});
    let (body, _) = read_body(post(&url, &asked).await).await;
    let payloads = data_payloads(&body);
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let usage_chunk: Value = serde_json::from_str(&payloads[payloads.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42,
               "prompt_tokens_details": {"cached_tokens": 8}})
    );
    let finish: Value = serde_json::from_str(&payloads[payloads.len() - 3]).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);

    let (body, _) = read_body(post(&url, &json!({"stream": true})).await).await;
    assert!(!body.contains("\"usage\""), "{body}");
}

#[tokio::test]
async fn both_openai_paths_answer_and_record_the_openai_wire() {
    let server = ScriptedServer::start(Script::new(vec![Step::text("a"), Step::text("b")]))
        .await
        .unwrap();
    let versioned = format!("{}/chat/completions", server.openai_base_url());
    let bare = format!("{}/chat/completions", server.base_url());
    let first: Value = post(&versioned, &json!({})).await.json().await.unwrap();
    let second: Value = post(&bare, &json!({})).await.json().await.unwrap();
    assert_eq!(first["choices"][0]["message"]["content"], "a");
    assert_eq!(second["choices"][0]["message"]["content"], "b");

    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[1].path, "/chat/completions");
    assert!(requests.iter().all(|request| request.wire == Wire::OpenAi));
}
