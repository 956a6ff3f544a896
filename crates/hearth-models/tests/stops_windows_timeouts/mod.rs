//! Provider stops that are not answers (refusals, content filters, full context
//! windows), Anthropic's history cache breakpoint, Ollama's context window and
//! sampling read from its native API (and remembered), and idle timeouts that fit reasoning models; all over real sockets
//! against the scripted server.

use hearth_models::ollama::{self, Detection, WindowSource};
use hearth_models::ollama_cache::ProbeCache;
use hearth_models::{Sampling, REASONING_IDLE_TIMEOUT};
use hearth_testkit::{
    Personality, StopKind, OLLAMA_MODEL_CONTEXT_LENGTH, OLLAMA_MODEL_TEMPERATURE,
    OLLAMA_MODEL_TOP_P, OLLAMA_VERSION,
};

use super::*;

async fn stopped(kind: ProviderKind, stop: StopKind, stream: bool) -> (ModelResponse, String) {
    let server = ScriptedServer::start(Script::new(vec![Step::provider_stop(
        "I started to answer but",
        stop,
    )]))
    .await
    .unwrap();
    let outcome = complete(&*provider(&server, kind), &request(stream)).await;
    let answer = outcome.result.unwrap();
    assert_eq!(server.requests().len(), 1, "a stop is not retried");
    (answer, streamed_text(&outcome.events))
}

#[tokio::test]
async fn an_anthropic_refusal_keeps_its_partial_text_and_stops_as_a_refusal() {
    for stream in [true, false] {
        let (answer, streamed) = stopped(ProviderKind::Anthropic, StopKind::Refusal, stream).await;
        assert_eq!(answer.stop_reason, StopReason::Refusal, "stream {stream}");
        assert_eq!(answer.text, "I started to answer but");
        assert_eq!(streamed, answer.text);
    }
}

#[tokio::test]
async fn an_anthropic_context_overflow_is_its_own_stop_reason() {
    for stream in [true, false] {
        let (answer, _) = stopped(
            ProviderKind::Anthropic,
            StopKind::ContextWindowExceeded,
            stream,
        )
        .await;
        assert_eq!(
            answer.stop_reason,
            StopReason::ContextWindowExceeded,
            "stream {stream}"
        );
    }
}

#[tokio::test]
async fn an_openai_content_filter_is_its_own_stop_reason() {
    for stream in [true, false] {
        let (answer, _) = stopped(ProviderKind::OpenAi, StopKind::ContentFilter, stream).await;
        assert_eq!(
            answer.stop_reason,
            StopReason::ContentFilter,
            "stream {stream}"
        );
        assert_eq!(answer.text, "I started to answer but");
    }
}

#[tokio::test]
async fn an_openai_refusal_field_is_a_refusal_with_its_words_as_text() {
    for stream in [true, false] {
        let (answer, streamed) = stopped(ProviderKind::OpenAi, StopKind::Refusal, stream).await;
        assert_eq!(answer.stop_reason, StopReason::Refusal, "stream {stream}");
        assert_eq!(answer.text, "I started to answer but");
        assert_eq!(streamed, answer.text);
    }
}

#[tokio::test]
async fn anthropic_requests_mark_the_latest_message_for_caching() {
    let server = ScriptedServer::start(Script::new(vec![Step::text("ok")]))
        .await
        .unwrap();
    let call = ToolCall {
        id: "toolu_1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"a.txt"}"#.into(),
    };
    let mut long = request(true);
    long.messages = vec![
        Message::user("read a.txt"),
        Message::assistant("", vec![call.clone()]),
        Message::Tool(hearth_protocol::ToolResult::ok(&call, "hello")),
    ];
    complete(&*provider(&server, ProviderKind::Anthropic), &long)
        .await
        .result
        .unwrap();
    let body = &server.requests()[0].body;
    let messages = body["messages"].as_array().unwrap();
    let last_block = messages.last().unwrap()["content"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(last_block["type"], "tool_result");
    assert_eq!(last_block["cache_control"], json!({"type": "ephemeral"}));
    assert_eq!(
        body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let breakpoints = body.to_string().matches("cache_control").count();
    assert_eq!(breakpoints, 2, "at most 4 are allowed; Hearth uses 2");
}

#[tokio::test]
async fn an_ollama_server_is_recognised_and_its_default_window_assumed() {
    let server = ScriptedServer::start_as(Script::new(vec![]), Personality::Ollama)
        .await
        .unwrap();
    let info = ollama::probe(&server.openai_base_url(), "llama3.1:8b")
        .await
        .expect("the scripted Ollama answers /api/version");
    assert_eq!(info.version, OLLAMA_VERSION);
    assert_eq!(info.model_max, Some(OLLAMA_MODEL_CONTEXT_LENGTH));
    assert_eq!(info.source, WindowSource::ServerDefault);
    assert_eq!(info.context_length, 4096);
    let warning = ollama::window_warning(&info, "llama3.1:8b", 2000).unwrap();
    assert!(warning.contains("OLLAMA_CONTEXT_LENGTH"), "{warning}");

    let not_ollama = ScriptedServer::start(Script::new(vec![])).await.unwrap();
    assert_eq!(
        ollama::probe(&not_ollama.openai_base_url(), "llama3.1:8b").await,
        None
    );
}

#[tokio::test]
async fn an_ollama_models_own_sampling_is_read_remembered_and_sent() {
    let server = ScriptedServer::start_as(Script::new(vec![Step::text("ok")]), Personality::Ollama)
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let cache = ProbeCache::new(home.path().join("cache/ollama-probe.json"));
    let info = cache
        .detect(&server.openai_base_url(), "llama3.1:8b")
        .await
        .into_ollama()
        .expect("the scripted Ollama answers /api/version");
    let expected = Sampling {
        temperature: Some(OLLAMA_MODEL_TEMPERATURE),
        top_p: Some(OLLAMA_MODEL_TOP_P),
    };
    assert_eq!(info.sampling, expected);
    assert_eq!(
        server.native_api_calls(),
        ["/api/version", "/api/show", "/api/ps"]
    );
    // A second run within the day asks the file, not the server.
    let again = cache.detect(&server.openai_base_url(), "llama3.1:8b").await;
    assert_eq!(again.into_ollama(), Some(info.clone()));
    assert_eq!(server.native_api_calls().len(), 3, "no second probe");

    let provider = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings
            .model_sampling
            .insert("test-model".into(), info.sampling);
    });
    complete(&*provider, &request(true)).await.result.unwrap();
    let body = &server.requests()[0].body;
    assert_eq!(
        (&body["temperature"], &body["top_p"]),
        (&json!(OLLAMA_MODEL_TEMPERATURE), &json!(OLLAMA_MODEL_TOP_P)),
        "{body}"
    );

    let not_ollama = ScriptedServer::start(Script::new(vec![])).await.unwrap();
    let detection = cache.detect(&not_ollama.openai_base_url(), "m").await;
    assert_eq!(detection, Detection::NotOllama);
    assert_eq!(
        cache.remembered(&not_ollama.openai_base_url(), "m"),
        Some(Detection::NotOllama),
        "a server that answered is remembered as not Ollama"
    );
}

#[tokio::test]
async fn a_reasoning_model_silent_before_its_first_byte_is_not_retried() {
    let server = ScriptedServer::start(Script::new(vec![Step::hang(), Step::text("late")]))
        .await
        .unwrap();
    let provider = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings.max_retries = 3;
        settings
            .model_idle_timeouts
            .insert("o3-mini".into(), Duration::from_millis(300));
    });
    let mut thinking = request(true);
    thinking.model = "o3-mini".into();
    let outcome = complete(&*provider, &thinking).await;
    let error = outcome.result.unwrap_err();
    assert!(
        matches!(error, ModelError::ReasoningIdleTimeout { .. }),
        "{error}"
    );
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(
        message.contains("[models.\"openai:o3-mini\"]") && message.contains("idle_timeout_secs"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
    assert!(outcome
        .events
        .iter()
        .all(|event| !matches!(event, StreamEvent::Retry { .. })));
}

#[tokio::test]
async fn a_reasoning_model_that_stalls_mid_answer_is_retried_as_before() {
    let stalled = Step::Hang {
        text: "Start of an answer".into(),
    };
    let server = ScriptedServer::start(Script::new(vec![stalled, Step::text("Whole answer")]))
        .await
        .unwrap();
    let provider = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings
            .model_idle_timeouts
            .insert("o3-mini".into(), Duration::from_millis(300));
    });
    let mut thinking = request(true);
    thinking.model = "o3-mini".into();
    let answer = complete(&*provider, &thinking).await.result.unwrap();
    assert_eq!(answer.text, "Whole answer");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn known_reasoning_models_wait_ten_minutes_by_default() {
    let settings = ProviderSettings::new(ProviderKind::OpenAi);
    assert_eq!(settings.idle_timeout_for("o3"), REASONING_IDLE_TIMEOUT);
    assert_eq!(
        settings.idle_timeout_for("deepseek-reasoner"),
        REASONING_IDLE_TIMEOUT
    );
    assert_eq!(
        settings.idle_timeout_for("gpt-4o-mini"),
        Duration::from_secs(120)
    );
}
