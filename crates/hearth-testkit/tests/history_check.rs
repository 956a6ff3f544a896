//! The server checks every request's history: each tool call has exactly one result,
//! in call order, and no result lacks its call, in both wire formats. A broken history
//! is recorded as a violation (and fails the test that owns the server when it drops);
//! a well-formed one is not. Sent over real HTTP, as a client would.

use hearth_testkit::{Script, ScriptedServer, Step};
use serde_json::{json, Value};

use crate::common::post;

async fn server() -> ScriptedServer {
    ScriptedServer::start(Script::new(vec![Step::text("ok"), Step::text("ok")]))
        .await
        .unwrap()
}

fn openai_history(results: Value) -> Value {
    let mut messages = vec![
        json!({"role": "user", "content": "go"}),
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "read_file", "arguments": "{}"}},
            {"id": "call_b", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}]}),
    ];
    messages.extend(results.as_array().unwrap().iter().cloned());
    json!({"model": "m", "messages": messages})
}

fn tool(id: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": "done"})
}

#[tokio::test]
async fn a_history_that_answers_every_call_in_order_is_not_a_violation() {
    let server = server().await;
    let url = format!("{}/chat/completions", server.openai_base_url());
    let body = openai_history(json!([tool("call_a"), tool("call_b")]));
    assert_eq!(post(&url, &body).await.status(), 200);
    let anthropic = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}]}]});
    let url = format!("{}/v1/messages", server.base_url());
    assert_eq!(post(&url, &anthropic).await.status(), 200);
    assert_eq!(server.violations(), Vec::<String>::new());
}

#[tokio::test]
async fn an_unanswered_call_and_an_orphan_result_are_violations_on_the_openai_wire() {
    let server = server().await;
    let url = format!("{}/chat/completions", server.openai_base_url());
    let body = openai_history(json!([tool("call_a"), tool("call_x")]));
    post(&url, &body).await;
    assert_eq!(
        server.take_violations(),
        vec![
            "request 1 (/v1/chat/completions): the tool result for \"call_x\" (message 3) answers no open call (its call is missing, or it was answered already)"
                .to_string(),
            "request 1 (/v1/chat/completions): tool call \"call_b\" (message 1) has no result"
                .to_string(),
        ]
    );
    assert_eq!(server.violations(), Vec::<String>::new(), "taken");
}

#[tokio::test]
async fn results_out_of_call_order_or_twice_are_violations_on_the_anthropic_wire() {
    let server = server().await;
    let url = format!("{}/v1/messages", server.base_url());
    let body = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "x", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": "b"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}]}]});
    post(&url, &body).await;
    let violations = server.take_violations();
    assert_eq!(
        violations,
        vec!["request 1 (/v1/messages): the result for tool call \"toolu_2\" (message 2) is not in call order: \"toolu_1\" comes first".to_string()]
    );

    let twice = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "x", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "again"}]}]});
    post(&url, &twice).await;
    assert_eq!(
        server.take_violations(),
        vec!["request 2 (/v1/messages): the tool result for \"toolu_1\" (message 1) answers no open call (its call is missing, or it was answered already)".to_string()]
    );
}

#[test]
fn a_server_dropped_with_violations_fails_the_test_that_owned_it() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dropped = std::panic::catch_unwind(|| {
        runtime.block_on(async {
            let server = server().await;
            let url = format!("{}/chat/completions", server.openai_base_url());
            post(&url, &openai_history(json!([tool("call_a")]))).await;
            drop(server);
        })
    });
    let message = dropped.expect_err("dropping the server panics");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("\"call_b\""), "{text}");
    assert!(text.contains("exactly one result"), "{text}");
}
