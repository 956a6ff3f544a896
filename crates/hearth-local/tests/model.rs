//! Runs the bundled small model (SmolLM2-135M-Instruct) through the provider: greedy
//! generation is deterministic, stops and is valid UTF-8; the chat template renders the
//! history (snapshot); tool calls under the grammar always parse and name an offered
//! tool; bad files give clear errors. Skipped, with a printed reason, when the model is
//! not in the cache (`scripts/fetch-models.sh chat` fetches it).

use std::path::{Path, PathBuf};

use hearth_local::{LocalOptions, LocalProvider, PrefixCache};
use hearth_models::{ModelError, Provider};
use hearth_protocol::{
    Message, ModelRequest, StopReason, StreamEvent, ToolCall, ToolResult, ToolSpec,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn bundled() -> Option<PathBuf> {
    let cache = hearth_protocol::model_cache_dir(|name| std::env::var_os(name));
    let path = cache.map(|cache| cache.join(hearth_local::BUNDLED_FILE));
    match path {
        Some(path) if path.is_file() => Some(path),
        _ => {
            let what = format!(
                "{} is absent (no HEARTH_MODELS or HOME, or not fetched); fetch it with scripts/fetch-models.sh chat",
                path.map_or_else(|| hearth_local::BUNDLED_FILE.into(), |path| path.display().to_string())
            );
            eprintln!("skipped: {}", hearth_testkit::model_absent(&what));
            None
        }
    }
}

/// Held by the tests that watch the model's kept context (one per loaded model, and a
/// generation that finds it busy goes without), so they do not take it from each other.
static KEPT_CONTEXT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// A context starts with room for a short answer (its KV cache sized to need, not to
/// `max_tokens`); a longer answer grows it and runs on to its budget, not cut short.
#[tokio::test]
async fn an_answer_longer_than_the_first_contexts_room_is_not_cut() {
    let Some(path) = bundled() else { return };
    let _kept = KEPT_CONTEXT.lock().await;
    let provider = provider(&path);
    let mut long = request(
        vec![Message::user(
            "Write a very long story about a dragon, with many chapters.",
        )],
        vec![],
        1600,
    );
    // About 450 tokens of prompt: the first context holds 1,024 tokens.
    long.system = "Dragons live in the mountains of the north. ".repeat(50);
    let (answer, _) = complete(&provider, &long).await;
    let answer = answer.unwrap();
    // Past the first context (the prompt, 512 tokens and 16, rounded up to 1,024).
    let used = answer.usage.input_tokens + answer.usage.output_tokens;
    assert!(
        (450..1024).contains(&answer.usage.input_tokens),
        "{:?}",
        answer.usage
    );
    assert!(used > 1024, "{:?} {}", answer.usage, answer.text);
    // The grown context is kept: the same request again gives the same text.
    let (again, _) = complete(&provider, &long).await;
    assert_eq!(again.unwrap().text, answer.text);
}

/// The steps of a tool-using turn, then a second turn: each prompt extends the one
/// before, as the loop's do.
fn growing_conversation() -> Vec<ModelRequest> {
    let call = ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"notes.txt"}"#.into(),
    };
    let result = ToolResult {
        call_id: "call_1".into(),
        name: "read_file".into(),
        content: "1\tBuy milk and bread.\n2\tCall Anna at noon.".into(),
        is_error: false,
    };
    let mut history = vec![Message::user("What is in notes.txt? Use read_file.")];
    let mut requests = vec![request(history.clone(), file_tools(), 40)];
    history.push(Message::assistant(String::new(), vec![call]));
    history.push(Message::Tool(result));
    requests.push(request(history.clone(), file_tools(), 40));
    history.push(Message::assistant(
        "You need milk and bread, and to call Anna.",
        vec![],
    ));
    history.push(Message::user("When should I call her?"));
    requests.push(request(history, file_tools(), 40));
    requests
}

/// Issue 21: keeping the KV cache between steps changes no output byte, and the later
/// steps decode only what the earlier ones did not.
#[tokio::test]
async fn reusing_the_kv_cache_gives_the_same_greedy_output() {
    let Some(path) = bundled() else { return };
    let _kept = KEPT_CONTEXT.lock().await;
    let fresh = LocalProvider::from_path(
        "smollm2",
        &path,
        LocalOptions {
            reuse_kv_cache: false,
            ..LocalOptions::default()
        },
    )
    .unwrap();
    let reusing = provider(&path);
    let mut reused_tokens = 0;
    for step in growing_conversation() {
        let (expected, _) = complete(&fresh, &step).await;
        let (got, _) = complete(&reusing, &step).await;
        let (expected, got) = (expected.unwrap(), got.unwrap());
        assert_eq!(got.text, expected.text);
        let calls = |response: &hearth_protocol::ModelResponse| {
            let calls = response.tool_calls.iter();
            calls
                .map(|c| (c.name.clone(), c.arguments.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(calls(&got), calls(&expected)); // ids are fresh each call
        assert_eq!(expected.usage.cached_tokens, 0);
        reused_tokens += got.usage.cached_tokens;
    }
    // Other tests share the model and may hold its kept context now and then (a
    // generation that finds it busy goes without), so at least one step reused it.
    assert!(reused_tokens > 0, "the kept context was never reused");
}

/// What a response says, without the fresh call ids.
fn said(response: &hearth_protocol::ModelResponse) -> (String, Vec<(String, String)>) {
    let calls = response.tool_calls.iter();
    (
        response.text.clone(),
        calls
            .map(|c| (c.name.clone(), c.arguments.clone()))
            .collect(),
    )
}

fn saved_states(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|f| f.extension().is_some_and(|x| x == "kv"));
    files
}

/// Issue 21 must 2: the state after the system prompt and tools is saved, and a later
/// request in a fresh context restores it and answers byte for byte the same; a
/// corrupted, truncated or foreign file is ignored (the prefix decoded again) and
/// replaced; the directory stays within its bound.
#[tokio::test]
async fn a_restored_prefix_state_gives_the_same_output_and_bad_files_are_ignored() {
    let Some(path) = bundled() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = PrefixCache::in_dir(dir.path().join("kv"));
    let fresh_contexts = |prefix_cache: Option<PrefixCache>| {
        let options = LocalOptions {
            reuse_kv_cache: false,
            prefix_cache,
            ..LocalOptions::default()
        };
        LocalProvider::from_path("smollm2", &path, options).unwrap()
    };
    let plain = fresh_contexts(None);
    let saving = fresh_contexts(Some(cache.clone()));
    let steps = growing_conversation();
    let mut expected = Vec::new();
    for step in &steps {
        expected.push(said(&complete(&plain, step).await.0.unwrap()));
    }
    // No file yet: the prefix is decoded, then saved.
    let first = complete(&saving, &steps[0]).await.0.unwrap();
    assert_eq!(said(&first), expected[0]);
    assert_eq!(first.usage.cached_tokens, 0);
    let files = saved_states(&cache.dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = files[0].clone();
    // Every step of the conversation now restores it.
    for (step, expected) in steps.iter().zip(&expected) {
        let got = complete(&saving, step).await.0.unwrap();
        assert_eq!(&said(&got), expected);
        assert!(got.usage.cached_tokens >= 32, "{:?}", got.usage);
    }
    let whole = std::fs::read(&file).unwrap();
    let mut corrupted = whole.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0x55;
    let mut foreign = whole.clone();
    foreign[20] ^= 0x01; // inside the model identity
    let damaged = [corrupted, whole[..whole.len() - 100].to_vec(), foreign];
    for bad in damaged {
        std::fs::write(&file, &bad).unwrap();
        let got = complete(&saving, &steps[1]).await.0.unwrap();
        assert_eq!(said(&got), expected[1]);
        // Rewritten whole: a restored state is never saved again, so the bad file
        // was refused. (A step may generate twice, the second restoring the new file,
        // so the usage does not tell.)
        assert_eq!(
            std::fs::read(&file).unwrap(),
            whole,
            "a bad file was trusted"
        );
    }

    // Bounded: room for one state only, so another prefix evicts the older file.
    let bounded = PrefixCache {
        max_bytes: whole.len() as u64 + 1_000,
        ..cache.clone()
    };
    let small = fresh_contexts(Some(bounded));
    let mut other = steps[0].clone();
    other.system = "Be brief.".into(); // shorter: its state fits the bound
    complete(&small, &other).await.0.unwrap();
    let files = saved_states(&cache.dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ne!(files[0], file, "the older state was kept");
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
    hearth_testkit::snapshot::assert_matches(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/smollm2_history.txt"),
        &rendered,
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

#[tokio::test]
async fn an_answer_that_loops_is_cut_before_the_token_budget() {
    let Some(path) = bundled() else { return };
    let provider = provider(&path);
    let ask = request(
        vec![Message::user(
            "Repeat after me, forever: ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha ha",
        )],
        vec![],
        2048,
    );
    let (answer, _) = complete(&provider, &ask).await;
    let answer = answer.unwrap();
    // Greedy decoding falls into a cycle (after ~750 tokens here); the loop stop ends
    // it before the 2,048-token budget, and says the answer was cut.
    assert_eq!(answer.stop_reason, StopReason::MaxTokens, "{}", answer.text);
    assert!(answer.usage.output_tokens < 2048, "{:?}", answer.usage);
}
