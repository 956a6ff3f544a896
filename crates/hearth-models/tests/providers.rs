//! Both providers over real HTTP against the testkit's scripted server: what they send,
//! how streamed and whole answers come back, and how retries, errors, timeouts and
//! cancellation behave.

use std::sync::Arc;
use std::time::Duration;

use hearth_models::{
    build_provider, ModelError, OversizedPart, Provider, ProviderKind, ProviderSettings,
    ResponseLimits, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_TOOL_CALLS,
};
use hearth_protocol::{
    Message, ModelRequest, ModelResponse, StopReason, StreamEvent, ToolCall, ToolSpec, Usage,
};
use hearth_testkit::{Script, ScriptUsage, ScriptedCall, ScriptedServer, Step};
use serde_json::json;
use tokio_util::sync::CancellationToken;

mod personalities;
mod stops_windows_timeouts;

const BOTH_KINDS: [ProviderKind; 2] = [ProviderKind::OpenAi, ProviderKind::Anthropic];

fn base_url(server: &ScriptedServer, kind: ProviderKind) -> String {
    match kind {
        ProviderKind::OpenAi => server.openai_base_url(),
        ProviderKind::Anthropic => server.base_url(),
    }
}

fn provider(server: &ScriptedServer, kind: ProviderKind) -> Arc<dyn Provider> {
    provider_with(kind, base_url(server, kind), |_| {})
}

fn provider_with(
    kind: ProviderKind,
    base_url: String,
    adjust: impl FnOnce(&mut ProviderSettings),
) -> Arc<dyn Provider> {
    let mut settings = ProviderSettings::new(kind);
    settings.base_url = base_url;
    settings.api_key = Some("test-key".into());
    settings.retry_base_delay = Duration::from_millis(1);
    settings.max_retries = 2;
    settings.idle_timeout = Duration::from_secs(10);
    adjust(&mut settings);
    build_provider(settings).unwrap()
}

fn request(stream: bool) -> ModelRequest {
    ModelRequest {
        model: "test-model".into(),
        system: "You are Hearth.".into(),
        messages: vec![Message::user("hi")],
        tools: vec![ToolSpec {
            name: "read_file".into(),
            description: "Read a file".into(),
            parameters: json!({"type": "object"}),
        }],
        max_tokens: 512,
        stream,
    }
}

struct Outcome {
    result: Result<ModelResponse, ModelError>,
    events: Vec<StreamEvent>,
}

async fn complete(provider: &dyn Provider, request: &ModelRequest) -> Outcome {
    complete_with(provider, request, &CancellationToken::new(), |_, _| {}).await
}

/// Runs one call, letting `on_each` see every event (and cancel), failing the test
/// instead of hanging if the call never returns.
async fn complete_with(
    provider: &dyn Provider,
    request: &ModelRequest,
    cancel: &CancellationToken,
    on_each: impl Fn(&StreamEvent, &CancellationToken) + Send + Sync,
) -> Outcome {
    let mut events = Vec::new();
    let observer_cancel = cancel.clone();
    let mut on_event = |event: StreamEvent| {
        on_each(&event, &observer_cancel);
        events.push(event);
    };
    let call = provider.complete(request, &mut on_event, cancel);
    let result = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the model call never returned");
    Outcome { result, events }
}

fn streamed_text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// Tool calls put back together from Start/Args events, as a renderer would.
fn streamed_calls(events: &[StreamEvent]) -> Vec<ToolCall> {
    let mut calls: Vec<ToolCall> = Vec::new();
    for event in events {
        match event {
            StreamEvent::ToolCallStart { index, id, name } => {
                assert_eq!(*index, calls.len(), "tool calls start in order");
                calls.push(ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            StreamEvent::ToolCallArgs { index, fragment } => {
                calls[*index].arguments.push_str(fragment)
            }
            _ => {}
        }
    }
    calls
}

#[tokio::test]
async fn openai_streams_text_with_usage_and_sends_the_documented_request() {
    let usage = ScriptUsage {
        input_tokens: 40,
        output_tokens: 3,
        cached_tokens: 32,
    };
    let server = ScriptedServer::start(Script::new(vec![
        Step::text("Hello there, friend").with_usage(usage)
    ]))
    .await
    .unwrap();
    let outcome = complete(&*provider(&server, ProviderKind::OpenAi), &request(true)).await;
    let answer = outcome.result.unwrap();
    assert_eq!(answer.text, "Hello there, friend");
    assert_eq!(streamed_text(&outcome.events), answer.text);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 40,
            output_tokens: 3,
            cached_tokens: 32,
            cache_creation_tokens: 0
        }
    );
    assert_eq!(answer.stop_reason, StopReason::EndTurn);

    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        sent.body["messages"][0],
        json!({"role": "system", "content": "You are Hearth."})
    );
    assert_eq!(sent.body["max_tokens"], 512);
    assert!(sent.body.get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn anthropic_streams_text_with_usage_and_sends_the_documented_request() {
    let usage = ScriptUsage {
        input_tokens: 12,
        output_tokens: 4,
        cached_tokens: 900,
    };
    let server = ScriptedServer::start(Script::new(vec![
        Step::text("Hello there").with_usage(usage)
    ]))
    .await
    .unwrap();
    let outcome = complete(&*provider(&server, ProviderKind::Anthropic), &request(true)).await;
    let answer = outcome.result.unwrap();
    assert_eq!(
        (answer.text.as_str(), answer.stop_reason),
        ("Hello there", StopReason::EndTurn)
    );
    assert_eq!(streamed_text(&outcome.events), answer.text);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 4,
            cached_tokens: 900,
            cache_creation_tokens: 0
        }
    );

    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("test-key"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.body["max_tokens"], 512);
    assert_eq!(
        sent.body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        sent.body["tools"][0]["input_schema"],
        json!({"type": "object"})
    );
}

#[tokio::test]
async fn parallel_tool_calls_arrive_whole_in_every_mode() {
    let calls = vec![
        ToolCall {
            id: "call_a".into(),
            name: "read_file".into(),
            arguments: r#"{"path": "a.txt"}"#.into(),
        },
        ToolCall {
            id: "call_b".into(),
            name: "list_dir".into(),
            arguments: r#"{"path": "src", "depth": 2}"#.into(),
        },
    ];
    for kind in BOTH_KINDS {
        for stream in [true, false] {
            let scripted = calls
                .iter()
                .map(|call| ScriptedCall::new(&call.id, &call.name, &call.arguments))
                .collect();
            let server =
                ScriptedServer::start(Script::new(vec![Step::tool_calls("Looking.", scripted)]))
                    .await
                    .unwrap();
            let outcome = complete(&*provider(&server, kind), &request(stream)).await;
            let answer = outcome.result.unwrap();
            let context = format!("{kind:?} stream={stream}");
            assert_eq!(answer.text, "Looking.", "{context}");
            assert_eq!(answer.stop_reason, StopReason::ToolUse, "{context}");
            let arguments_as_json = |calls: &[ToolCall]| -> Vec<serde_json::Value> {
                calls
                    .iter()
                    .map(|call| serde_json::from_str(&call.arguments).unwrap())
                    .collect()
            };
            assert_eq!(
                arguments_as_json(&answer.tool_calls),
                arguments_as_json(&calls),
                "{context}"
            );
            let ids: Vec<&str> = answer
                .tool_calls
                .iter()
                .map(|call| call.id.as_str())
                .collect();
            assert_eq!(ids, ["call_a", "call_b"], "{context}");
            // Non-streaming answers are reported as events too (see the crate docs).
            assert_eq!(
                streamed_calls(&outcome.events),
                answer.tool_calls,
                "{context}"
            );
            assert_eq!(streamed_text(&outcome.events), "Looking.", "{context}");
        }
    }
}

#[tokio::test]
async fn streamed_arguments_that_are_not_json_are_kept_verbatim() {
    for kind in BOTH_KINDS {
        let broken = r#"{"path": "a.txt", "#;
        let server = ScriptedServer::start(Script::new(vec![Step::tool_call(
            "call_x",
            "read_file",
            broken,
        )]))
        .await
        .unwrap();
        let answer = complete(&*provider(&server, kind), &request(true))
            .await
            .result
            .unwrap();
        assert_eq!(answer.tool_calls[0].arguments, broken, "{kind:?}");
    }
}

#[tokio::test]
async fn server_errors_and_dropped_streams_are_retried_with_a_retry_event() {
    for kind in BOTH_KINDS {
        let script = Script::new(vec![
            Step::http_error(503, "upstream unavailable"),
            Step::drop_mid_stream("Half an"),
            Step::text("Whole answer"),
        ]);
        let server = ScriptedServer::start(script).await.unwrap();
        let outcome = complete(&*provider(&server, kind), &request(true)).await;
        assert_eq!(outcome.result.unwrap().text, "Whole answer", "{kind:?}");
        let retries: Vec<(u32, &str)> = outcome
            .events
            .iter()
            .filter_map(|event| match event {
                StreamEvent::Retry {
                    attempt, reason, ..
                } => Some((*attempt, reason.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(retries.len(), 2, "{kind:?}: {retries:?}");
        assert_eq!(retries[0].0, 1);
        assert!(
            retries[0].1.contains("503") && retries[0].1.contains("upstream unavailable"),
            "{}",
            retries[0].1
        );
        assert_eq!(retries[1].0, 2);
        assert!(retries[1].1.contains("ended early"), "{}", retries[1].1);
        assert_eq!(server.requests().len(), 3);
    }
}

#[tokio::test]
async fn rate_limits_wait_as_long_as_retry_after_says() {
    let script = Script::new(vec![
        Step::http_error(429, "slow down").with_retry_after(1),
        Step::text("ok"),
    ]);
    let server = ScriptedServer::start(script).await.unwrap();
    let outcome = complete(&*provider(&server, ProviderKind::OpenAi), &request(false)).await;
    assert_eq!(outcome.result.unwrap().text, "ok");
    let StreamEvent::Retry {
        attempt,
        delay_ms,
        reason,
    } = &outcome.events[0]
    else {
        panic!("expected a retry event first, got {:?}", outcome.events);
    };
    assert_eq!((*attempt, *delay_ms), (1, 1000));
    assert!(
        reason.contains("429") && reason.contains("slow down"),
        "{reason}"
    );
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_says_what_to_check() {
    let server = ScriptedServer::start(Script::new(vec![Step::http_error(
        401,
        "Incorrect API key provided",
    )]))
    .await
    .unwrap();
    let outcome = complete(&*provider(&server, ProviderKind::OpenAi), &request(true)).await;
    let error = outcome.result.unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        format!(
            "openai:test-model at {}/chat/completions: 401 Unauthorized: Incorrect API key provided \
             — check OPENAI_API_KEY or [providers.openai] api_key in config.toml",
            server.openai_base_url()
        )
    );
    assert_eq!(server.requests().len(), 1);
    assert!(outcome.events.is_empty());
}

#[tokio::test]
async fn not_found_names_the_model_and_where_requests_go() {
    let server = ScriptedServer::start(Script::new(vec![Step::http_error(
        404,
        "model: test-model",
    )]))
    .await
    .unwrap();
    let error = complete(
        &*provider(&server, ProviderKind::Anthropic),
        &request(false),
    )
    .await
    .result
    .unwrap_err()
    .to_string();
    let url = format!("{}/v1/messages", server.base_url());
    assert!(
        error.starts_with(&format!(
            "anthropic:test-model at {url}: 404 Not Found: model: test-model"
        )),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "check the model name 'test-model' and base_url (requests go to {url})"
        )),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn exhausted_retries_say_how_many_attempts_and_why() {
    let steps = (0..3)
        .map(|_| Step::http_error(529, "Overloaded"))
        .collect();
    let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
    let error = complete(&*provider(&server, ProviderKind::Anthropic), &request(true))
        .await
        .result
        .unwrap_err();
    let ModelError::RetriesExhausted { attempts, last } = &error else {
        panic!("expected exhausted retries, got {error}");
    };
    assert_eq!(*attempts, 3);
    assert!(matches!(**last, ModelError::Http { status: 529, .. }));
    let message = error.to_string();
    assert!(
        message.starts_with("gave up after 3 attempts; last error: anthropic:test-model at "),
        "{message}"
    );
    assert!(message.contains("529: Overloaded"), "{message}");
}

#[tokio::test]
async fn silent_servers_hit_the_idle_timeout_before_headers_and_mid_stream() {
    let stalled_stream = Step::Hang {
        text: "Start of an answer".into(),
    };
    let server = ScriptedServer::start(Script::new(vec![Step::hang(), stalled_stream]))
        .await
        .unwrap();
    let provider = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings.idle_timeout = Duration::from_millis(300);
        settings.max_retries = 0;
    });
    for expect_partial_text in [false, true] {
        let outcome = complete(&*provider, &request(true)).await;
        let error = outcome.result.unwrap_err();
        assert!(matches!(error, ModelError::IdleTimeout { .. }), "{error}");
        assert!(error.is_retryable());
        assert!(error.to_string().contains("raise timeout_secs"), "{error}");
        assert_eq!(
            streamed_text(&outcome.events).is_empty(),
            !expect_partial_text
        );
    }
}

#[tokio::test]
async fn cancelling_ends_a_hanging_call() {
    let server = ScriptedServer::start(Script::new(vec![Step::hang()]))
        .await
        .unwrap();
    let provider = provider(&server, ProviderKind::Anthropic);
    let cancel = CancellationToken::new();
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        canceller.cancel();
    });
    let outcome = complete_with(&*provider, &request(true), &cancel, |_, _| {}).await;
    assert!(matches!(outcome.result, Err(ModelError::Cancelled)));
}

#[tokio::test]
async fn cancelling_ends_a_backoff_sleep() {
    let script = Script::new(vec![
        Step::http_error(429, "slow down").with_retry_after(3600),
        Step::text("never"),
    ]);
    let server = ScriptedServer::start(script).await.unwrap();
    let provider = provider(&server, ProviderKind::OpenAi);
    let cancel = CancellationToken::new();
    let outcome = complete_with(&*provider, &request(true), &cancel, |event, cancel| {
        if let StreamEvent::Retry { delay_ms, .. } = event {
            assert_eq!(*delay_ms, 60_000, "retry-after is capped at 60 s");
            cancel.cancel();
        }
    })
    .await;
    assert!(matches!(outcome.result, Err(ModelError::Cancelled)));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_servers_are_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let provider = provider_with(
        ProviderKind::OpenAi,
        format!("http://{address}/v1"),
        |settings| {
            settings.max_retries = 1;
        },
    );
    let outcome = complete(&*provider, &request(true)).await;
    let error = outcome.result.unwrap_err();
    let ModelError::RetriesExhausted { attempts: 2, last } = &error else {
        panic!("expected two failed attempts, got {error}");
    };
    assert!(matches!(**last, ModelError::Connect { .. }), "{last}");
    assert!(
        error.to_string().contains("could not reach the server"),
        "{error}"
    );
    assert!(matches!(
        outcome.events.as_slice(),
        [StreamEvent::Retry { attempt: 1, .. }]
    ));
}

// Bounded output (security review, finding 8): every cap stops the call with
// ResponseTooLarge, is never retried, and returns nothing of the oversized answer.

const BOTH_MODES: [bool; 2] = [true, false];

fn limited(
    kind: ProviderKind,
    server: &ScriptedServer,
    limits: ResponseLimits,
) -> Arc<dyn Provider> {
    provider_with(kind, base_url(server, kind), |settings| {
        settings.limits = limits
    })
}

/// The call failed with ResponseTooLarge for `part` at `limit`, once, without a retry.
fn assert_too_large(outcome: &Outcome, server: &ScriptedServer, part: OversizedPart, limit: usize) {
    let error = outcome.result.as_ref().unwrap_err();
    match error {
        ModelError::ResponseTooLarge {
            part: actual_part,
            limit: actual_limit,
            ..
        } => assert_eq!((*actual_part, *actual_limit), (part, limit), "{error}"),
        other => panic!("expected ResponseTooLarge for {part:?}, got: {other}"),
    }
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.contains(part.limit_field()), "{message}");
    assert!(message.contains(&limit.to_string()), "{message}");
    assert!(
        !outcome
            .events
            .iter()
            .any(|event| matches!(event, StreamEvent::Retry { .. })),
        "an oversized answer must not be retried"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "an oversized answer must not be retried"
    );
}

#[tokio::test]
async fn a_runaway_stream_stops_at_the_text_limit_and_is_not_retried() {
    for kind in BOTH_KINDS {
        let server = ScriptedServer::start(Script::new(vec![Step::text_flood(8 * 1024 * 1024)]))
            .await
            .unwrap();
        let provider = provider(&server, kind);
        let outcome = complete(&*provider, &request(true)).await;
        assert_too_large(
            &outcome,
            &server,
            OversizedPart::Text,
            DEFAULT_MAX_TEXT_BYTES,
        );
        assert!(streamed_text(&outcome.events).len() <= DEFAULT_MAX_TEXT_BYTES);
    }
}

#[tokio::test]
async fn whole_answers_over_the_body_or_text_limit_are_refused() {
    for kind in BOTH_KINDS {
        let script = Script::new(vec![
            Step::text_flood(32 * 1024 * 1024),
            Step::text("a".repeat(100 * 1024)),
        ]);
        let server = ScriptedServer::start(script).await.unwrap();
        let limits = ResponseLimits {
            max_text_bytes: 64 * 1024,
            ..ResponseLimits::default()
        };
        let provider = limited(kind, &server, limits);
        let outcome = complete(&*provider, &request(false)).await;
        assert_too_large(
            &outcome,
            &server,
            OversizedPart::Body,
            DEFAULT_MAX_BODY_BYTES,
        );
        assert!(outcome.events.is_empty());

        let outcome = complete(&*provider, &request(false)).await;
        let error = outcome.result.unwrap_err();
        assert!(
            matches!(error, ModelError::ResponseTooLarge { part: OversizedPart::Text, limit, .. } if limit == 64 * 1024),
            "{error}"
        );
        assert!(
            outcome.events.is_empty(),
            "nothing of it is reported either"
        );
    }
}

#[tokio::test]
async fn an_endless_sse_line_fails_at_the_event_limit_without_being_buffered() {
    for kind in BOTH_KINDS {
        let line = Step::unterminated_line(64 * 1024 * 1024);
        let server = ScriptedServer::start(Script::new(vec![line]))
            .await
            .unwrap();
        let limits = ResponseLimits {
            max_sse_event_bytes: 64 * 1024,
            ..ResponseLimits::default()
        };
        // The line never ends and then stalls: reading all of it before checking would
        // end in the idle timeout (or the test's hang guard), not in this error.
        let provider = limited(kind, &server, limits);
        let outcome = complete(&*provider, &request(true)).await;
        assert_too_large(&outcome, &server, OversizedPart::SseEvent, 64 * 1024);
    }
}

#[tokio::test]
async fn ten_thousand_tool_calls_in_one_answer_are_refused() {
    let calls: Vec<ScriptedCall> = (0..10_000)
        .map(|number| ScriptedCall::new(format!("call_{number}"), "read_file", "{}"))
        .collect();
    for kind in BOTH_KINDS {
        for stream in BOTH_MODES {
            let step = Step::tool_calls("", calls.clone());
            let server = ScriptedServer::start(Script::new(vec![step]))
                .await
                .unwrap();
            let provider = provider(&server, kind);
            let outcome = complete(&*provider, &request(stream)).await;
            assert_too_large(
                &outcome,
                &server,
                OversizedPart::ToolCalls,
                DEFAULT_MAX_TOOL_CALLS,
            );
            let started = outcome
                .events
                .iter()
                .filter(|event| matches!(event, StreamEvent::ToolCallStart { .. }))
                .count();
            assert!(
                started <= DEFAULT_MAX_TOOL_CALLS,
                "{kind:?} stream={stream}: {started}"
            );
        }
    }
}

#[tokio::test]
async fn tool_call_arguments_over_the_limit_are_refused() {
    let arguments = format!(r#"{{"content":"{}"}}"#, "a".repeat(256 * 1024));
    for kind in BOTH_KINDS {
        for stream in BOTH_MODES {
            let step = Step::tool_call("call_1", "write_file", arguments.clone());
            let server = ScriptedServer::start(Script::new(vec![step]))
                .await
                .unwrap();
            let limits = ResponseLimits {
                max_tool_argument_bytes: 64 * 1024,
                ..ResponseLimits::default()
            };
            let provider = limited(kind, &server, limits);
            let outcome = complete(&*provider, &request(stream)).await;
            assert_too_large(&outcome, &server, OversizedPart::ToolArguments, 64 * 1024);
        }
    }
}

#[tokio::test]
async fn comment_keep_alives_do_not_hold_a_stream_open_past_the_idle_timeout() {
    for kind in BOTH_KINDS {
        let server = ScriptedServer::start(Script::new(vec![Step::keep_alive_only(100)]))
            .await
            .unwrap();
        let provider = provider_with(kind, base_url(&server, kind), |settings| {
            settings.idle_timeout = Duration::from_secs(1);
            settings.max_retries = 0;
        });
        // complete() fails the test if the call never returns (the old behaviour).
        let outcome = complete(&*provider, &request(true)).await;
        let error = outcome.result.unwrap_err();
        assert!(matches!(error, ModelError::IdleTimeout { .. }), "{error}");
    }
}
