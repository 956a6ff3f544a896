//! Runs the bundled small model (SmolLM2-135M-Instruct) through the provider: greedy
//! generation is deterministic, stops and is valid UTF-8; the chat template renders the
//! history (snapshot); tool calls under the grammar always parse and name an offered
//! tool; bad files give clear errors. Skipped, with a printed reason, when the model is
//! not in the cache (`scripts/fetch-models.sh chat` fetches it).

use std::path::{Path, PathBuf};

use hearth_local::{LocalOptions, LocalProvider};
use hearth_models::{ModelError, Provider};
use hearth_protocol::{
    Message, ModelRequest, StopReason, StreamEvent, ToolCall, ToolResult, ToolSpec,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn bundled() -> Option<PathBuf> {
    let path = hearth_local::models_dir().join(hearth_local::BUNDLED_FILE);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {} is absent; fetch it with scripts/fetch-models.sh chat",
            path.display()
        );
        None
    }
}

fn provider(path: &Path) -> LocalProvider {
    LocalProvider::from_path("smollm2", path, LocalOptions::default()).unwrap()
}

fn request(messages: Vec<Message>, tools: Vec<ToolSpec>, max_tokens: u32) -> ModelRequest {
    ModelRequest {
        model: "local:smollm2".into(),
        system: "You are a helpful assistant.".into(),
        messages,
        tools,
        max_tokens,
        stream: true,
    }
}

fn file_tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "read_file".into(),
            description: "Read a text file in the workspace.".into(),
            parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        },
        ToolSpec {
            name: "write_file".into(),
            description: "Create or overwrite a file in the workspace.".into(),
            parameters: json!({"type": "object", "properties": {
                "path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"]}),
        },
    ]
}

async fn complete(
    provider: &LocalProvider,
    request: &ModelRequest,
) -> (
    Result<hearth_protocol::ModelResponse, ModelError>,
    Vec<StreamEvent>,
) {
    let mut events = Vec::new();
    let result = provider
        .complete(request, &mut |e| events.push(e), &CancellationToken::new())
        .await;
    (result, events)
}

#[tokio::test]
async fn greedy_generation_is_deterministic_stops_and_streams_utf8() {
    let Some(path) = bundled() else { return };
    let provider = provider(&path);
    let ask = request(
        vec![Message::user("What is the capital of France?")],
        vec![],
        48,
    );
    let (first, events) = complete(&provider, &ask).await;
    let first = first.unwrap();
    let (second, _) = complete(&provider, &ask).await;
    let second = second.unwrap();
    assert_eq!(first.text, second.text);
    assert!(!first.text.is_empty());
    assert!(first.text.contains("Paris"), "{}", first.text);
    assert!(first.usage.input_tokens > 10 && first.usage.output_tokens > 0);
    let streamed: String = events
        .iter()
        .map(|e| match e {
            StreamEvent::TextDelta(t) => t.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(streamed.trim(), first.text);
    // The model ends its turn on its own (not at the budget) and no turn marker leaks.
    assert_eq!(first.stop_reason, StopReason::EndTurn);
    assert!(!first.text.contains("<|im_"), "{}", first.text);

    let tiny = request(vec![Message::user("Count from 1 to 100.")], vec![], 5);
    let (capped, _) = complete(&provider, &tiny).await;
    let capped = capped.unwrap();
    assert_eq!(capped.stop_reason, StopReason::MaxTokens);
    assert_eq!(capped.usage.output_tokens, 5);

    let unicode = request(
        vec![Message::user("Write three emoji and the word café.")],
        vec![],
        24,
    );
    let (answer, events) = complete(&provider, &unicode).await;
    assert!(answer.is_ok());
    for event in events {
        if let StreamEvent::TextDelta(text) = event {
            assert!(!text.contains('\u{fffd}'), "{text:?}");
        }
    }
}

#[tokio::test]
async fn the_chat_template_renders_the_history() {
    let Some(path) = bundled() else { return };
    let call = ToolCall {
        id: "c1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"notes.txt"}"#.into(),
    };
    let history = vec![
        Message::user("What do my notes say?"),
        Message::assistant("", vec![call.clone()]),
        Message::Tool(ToolResult::ok(&call, "buy milk")),
        Message::assistant("They say: buy milk.", vec![]),
        Message::user("Thanks!"),
    ];
    let rendered = hearth_local::render_prompt(&path, &request(history, file_tools(), 64)).unwrap();
    let snapshot =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/smollm2_history.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap();
    assert_eq!(
        rendered, expected,
        "rerun with UPDATE_SNAPSHOTS=1 to accept"
    );
}

#[tokio::test]
async fn tool_calls_always_parse_and_name_an_offered_tool() {
    let Some(path) = bundled() else { return };
    let provider = provider(&path);
    let prompts = [
        "Read the file notes.txt.",
        "Write 'hello' to hello.txt.",
        "Show me what is in todo.md.",
        "Create a file called a.txt containing the word apple.",
    ];
    for prompt in prompts {
        let ask = request(vec![Message::user(prompt)], file_tools(), 96);
        let (response, events) = complete(&provider, &ask).await;
        let response = response.unwrap();
        for call in &response.tool_calls {
            assert!(["read_file", "write_file"].contains(&call.name.as_str()));
            let args: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
            assert!(args["path"].is_string(), "{prompt}: {}", call.arguments);
            assert!(events.iter().any(
                |e| matches!(e, StreamEvent::ToolCallStart { name, .. } if *name == call.name)
            ));
        }
        if response.tool_calls.is_empty() {
            assert!(
                !response.text.starts_with('<'),
                "{prompt}: {}",
                response.text
            );
        } else {
            assert_eq!(response.stop_reason, StopReason::ToolUse);
        }
    }
    // Naming a tool makes the step a call of it.
    let ask = request(
        vec![Message::user("Use read_file to read notes.txt.")],
        file_tools(),
        96,
    );
    let (response, _) = complete(&provider, &ask).await;
    let response = response.unwrap();
    assert_eq!(response.tool_calls.len(), 1, "{}", response.text);
    assert_eq!(response.tool_calls[0].name, "read_file");
}

#[tokio::test]
async fn after_the_call_cap_or_a_repeated_call_the_model_must_answer() {
    let Some(path) = bundled() else { return };
    let call = ToolCall {
        id: "c1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"notes.txt"}"#.into(),
    };
    let history = vec![
        Message::user("Read notes.txt."),
        Message::assistant("", vec![call.clone()]),
        Message::Tool(ToolResult::ok(&call, "buy milk")),
    ];
    let options = LocalOptions {
        max_tool_calls: 1,
        ..LocalOptions::default()
    };
    let capped = LocalProvider::from_path("smollm2", &path, options).unwrap();
    let (response, _) = complete(&capped, &request(history.clone(), file_tools(), 64)).await;
    let response = response.unwrap();
    assert!(response.tool_calls.is_empty(), "{:?}", response.tool_calls);
    assert_ne!(response.stop_reason, StopReason::ToolUse);
    assert!(!response.text.starts_with('<'), "{}", response.text);

    // With room for more calls, the same call again is never returned.
    let (response, _) = complete(&provider(&path), &request(history, file_tools(), 64)).await;
    let response = response.unwrap();
    for made in &response.tool_calls {
        assert!(
            !(made.name == "read_file" && made.arguments == call.arguments),
            "repeated {made:?}"
        );
    }
}

#[tokio::test]
async fn cancellation_ends_the_call() {
    let Some(path) = bundled() else { return };
    let provider = provider(&path);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let ask = request(vec![Message::user("Tell me a long story.")], vec![], 512);
    let result = provider.complete(&ask, &mut |_| {}, &cancel).await;
    assert!(matches!(result, Err(ModelError::Cancelled)), "{result:?}");
}

#[tokio::test]
async fn missing_and_corrupt_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.gguf");
    let message = LocalProvider::from_path("x", &missing, LocalOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("nothing.gguf"), "{message}");

    let not_gguf = dir.path().join("page.gguf");
    std::fs::write(&not_gguf, "<html>404</html>").unwrap();
    let message = LocalProvider::from_path("x", &not_gguf, LocalOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("not a GGUF model file"), "{message}");

    // A GGUF header followed by garbage passes the quick check and must fail in
    // llama.cpp's loader with an error, not a crash.
    let truncated = dir.path().join("truncated.gguf");
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&[0xAB; 64]);
    std::fs::write(&truncated, bytes).unwrap();
    let provider =
        LocalProvider::from_path("truncated", &truncated, LocalOptions::default()).unwrap();
    let ask = request(vec![Message::user("hi")], vec![], 8);
    let (result, _) = complete(&provider, &ask).await;
    let message = result.unwrap_err().to_string();
    assert!(message.contains("truncated.gguf"), "{message}");
    assert!(message.contains("could not load"), "{message}");

    if let Some(path) = bundled() {
        // The first half of the real model: a valid header, missing tensor data.
        let bytes = std::fs::read(&path).unwrap();
        let half = dir.path().join("half.gguf");
        std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
        let provider = LocalProvider::from_path("half", &half, LocalOptions::default()).unwrap();
        let (result, _) = complete(&provider, &ask).await;
        let message = result.unwrap_err().to_string();
        assert!(message.contains("could not load"), "{message}");
    }
}
