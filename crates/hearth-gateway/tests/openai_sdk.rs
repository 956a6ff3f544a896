//! The `/v1` endpoint driven by the official `openai` Python SDK (from the test-peer
//! venv that scripts/setup.sh installs): a gateway on 127.0.0.1:0 over the scripted model
//! server, a non-streaming and a streaming completion (a tool call inside it unseen), a
//! request resending the history that continues the same session, the `user` field and
//! the X-Hearth-Session header, an unknown model (404) and a bad body (400).

use std::path::PathBuf;

use hearth_testkit::{ScriptUsage, ScriptedCall, Step};
use serde_json::Value;

use crate::common::{Harness, TOKEN};

fn python() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-peers/venv/bin/python")
}

fn usage(input: u64, output: u64) -> ScriptUsage {
    ScriptUsage {
        input_tokens: input,
        output_tokens: output,
        ..ScriptUsage::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openai_sdk_completes_streams_and_continues_one_session() {
    let python = python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it installs the openai SDK for the tests)",
        python.display()
    );
    let harness = Harness::start(vec![
        Step::text("The first answer.").with_usage(usage(100, 10)),
        // The streamed turn looks at a file first: the client sees the text, not the call.
        Step::tool_calls(
            "Let me look.",
            vec![ScriptedCall::new(
                "c1",
                "read_file",
                r#"{"path": "notes.txt"}"#,
            )],
        )
        .with_usage(usage(50, 5)),
        Step::text("The second answer, streamed.").with_usage(usage(200, 20)),
        Step::text("The third answer.").with_usage(usage(300, 30)),
        Step::text("Hello Alice."),
        Step::text("Hello again, Alice."),
        Step::text("By header."),
    ])
    .await;
    let addr = harness.addr;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(format!("http://{addr}/v1"))
        .arg(TOKEN)
        .output()
        .await
        .expect("python ran");
    assert!(
        output.status.success(),
        "openai_sdk.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");

    assert_eq!(out["models"], serde_json::json!(["hearth"]));
    let plain = &out["plain"];
    assert_eq!(plain["object"], "chat.completion");
    assert_eq!(plain["text"], "The first answer.");
    assert_eq!(plain["role"], "assistant");
    assert_eq!(plain["finish_reason"], "stop");
    assert_eq!(plain["usage"]["prompt_tokens"], 100);
    assert_eq!(plain["usage"]["completion_tokens"], 10);
    assert_eq!(plain["usage"]["total_tokens"], 110);

    let streamed = &out["streamed"];
    assert_eq!(
        streamed["objects"],
        serde_json::json!(["chat.completion.chunk"])
    );
    assert_eq!(
        streamed["text"],
        "Let me look.\n\nThe second answer, streamed."
    );
    assert_eq!(streamed["finish_reasons"], serde_json::json!(["stop"]));
    assert_eq!(streamed["usage"]["prompt_tokens"], 250);
    assert_eq!(streamed["usage"]["completion_tokens"], 25);
    assert_eq!(out["resent"]["text"], "The third answer.");

    // One session throughout: the history resent twice continued it, and the header
    // named it; the `user` field kept a session of its own.
    let session = plain["session"].as_str().expect("session header");
    assert_eq!(streamed["session"], session);
    assert_eq!(out["resent"]["session"], session);
    assert_eq!(out["by_header"]["session"], session);
    assert_eq!(out["by_header"]["text"], "By header.");
    let alice = &out["user_field"];
    assert_eq!(
        alice["texts"],
        serde_json::json!(["Hello Alice.", "Hello again, Alice."])
    );
    assert_eq!(alice["sessions"][0], alice["sessions"][1]);
    assert_ne!(alice["sessions"][0], session);

    assert_eq!(out["unknown_model"]["status"], 404);
    assert_eq!(out["unknown_model"]["body"]["code"], "model_not_found");
    assert_eq!(out["bad_body"]["status"], 400);
    assert_eq!(
        out["bad_body"]["body"]["error"]["type"],
        "invalid_request_error"
    );
    let message = out["bad_body"]["body"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("messages"), "{message}");

    // The model saw the whole conversation, from Hearth's own session: each request of
    // the third turn's history once, in order.
    let requests = harness.server.requests();
    assert_eq!(requests.len(), 7);
    let seen: Vec<String> = requests[3].body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["role"] == "user" || m["role"] == "assistant")
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .filter(|text| !text.is_empty())
        .collect();
    let expected = [
        "first question",
        "The first answer.",
        "second question",
        "Let me look.",
        "The second answer, streamed.",
        "third question",
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for (text, want) in seen.iter().zip(expected) {
        assert!(text.contains(want), "{text:?} should hold {want:?}");
    }
}

/// A non-streaming completion whose turn outlasts the gateway's request timeout still
/// answers 200 with the whole `chat.completion` (its head goes out before the timeout).
#[tokio::test(flavor = "multi_thread")]
async fn a_long_turn_without_streaming_outlasts_the_request_timeout() {
    let harness = Harness::start_with(
        vec![Step::text("A slow answer.").with_delay_ms(4_000)],
        hearth_runtime::Overrides::default(),
        |settings| settings.request_timeout = std::time::Duration::from_secs(3),
    )
    .await;
    let response = harness
        .post("/v1/chat/completions")
        .json(&serde_json::json!({
            "model": "hearth",
            "messages": [{"role": "user", "content": "take your time"}],
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_str(response.text().await.expect("body").trim())
        .expect("a chat.completion");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "A slow answer.");
}
