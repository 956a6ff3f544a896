//! The OpenAI wire against the scripted server imitating real servers (LM Studio,
//! DeepSeek, OpenRouter, llama.cpp, Ollama): what each documented quirk needs from the
//! request, and how each server's way of failing mid-stream is reported.

use hearth_protocol::{ProviderState, ToolResult};
use hearth_testkit::{Personality, LM_STUDIO_NULL_CONTENT_ERROR, OPENROUTER_UPSTREAM_PROVIDER};

use super::*;

async fn server_as(personality: Personality, steps: Vec<Step>) -> ScriptedServer {
    ScriptedServer::start_as(Script::new(steps), personality)
        .await
        .unwrap()
}

fn openai_provider(server: &ScriptedServer) -> Arc<dyn Provider> {
    provider(server, ProviderKind::OpenAi)
}

fn read_call() -> ToolCall {
    ToolCall {
        id: "call_1".into(),
        name: "read_file".into(),
        arguments: r#"{"path":"a.txt"}"#.into(),
    }
}

/// `hi`, then the model's `answer` (with its calls and state), then each call's result.
fn after_tool_step(stream: bool, answer: Message) -> ModelRequest {
    let mut next = request(stream);
    let calls = match &answer {
        Message::Assistant { tool_calls, .. } => tool_calls.clone(),
        _ => Vec::new(),
    };
    next.messages.push(answer);
    for call in &calls {
        next.messages
            .push(Message::Tool(ToolResult::ok(call, "hello")));
    }
    next
}

#[tokio::test]
async fn lm_studio_takes_the_step_after_a_call_made_without_preamble() {
    for stream in [true, false] {
        let server = server_as(Personality::LmStudio, vec![Step::text("It says hello.")]).await;
        let answer = Message::assistant("", vec![read_call()]);
        let outcome = complete(&*openai_provider(&server), &after_tool_step(stream, answer)).await;
        let response = outcome.result.unwrap_or_else(|error| {
            panic!("stream={stream}: LM Studio refused the history: {error}")
        });
        assert_eq!(response.text, "It says hello.");
        let sent = &server.requests()[0].body["messages"];
        assert_eq!(sent[2]["role"], "assistant");
        assert_eq!(sent[2]["content"], "", "never null: {sent}");
        assert_eq!(sent[3]["name"], "read_file", "tool results name their tool");
    }
}

#[tokio::test]
async fn lm_studio_refusal_names_its_message_and_an_empty_answer_is_left_out() {
    // The personality really refuses null content (so the test above means something).
    let server = server_as(Personality::LmStudio, vec![Step::text("unused")]).await;
    let client = reqwest::Client::new();
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "x", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "ok"}]});
    let refused = client
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains(LM_STUDIO_NULL_CONTENT_ERROR));

    // A stored empty reply (filtered, refused, all budget spent thinking) is skipped.
    let server = server_as(Personality::LmStudio, vec![Step::text("ok")]).await;
    let mut next = request(true);
    next.messages.push(Message::assistant("", vec![]));
    next.messages.push(Message::user("again"));
    let outcome = complete(&*openai_provider(&server), &next).await;
    assert_eq!(outcome.result.unwrap().text, "ok");
    let sent = server.requests()[0].body["messages"].clone();
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "user"], "{sent}");
}

/// Two steps of a tool-using turn: the first answer's state goes back with it.
async fn reasoning_round_trip(
    personality: Personality,
    stream: bool,
) -> (ScriptedServer, ProviderState) {
    let server = server_as(
        personality,
        vec![
            Step::tool_call("call_1", "read_file", r#"{"path":"a.txt"}"#),
            Step::text("Done."),
        ],
    )
    .await;
    let client = openai_provider(&server);
    let first = complete(&*client, &request(stream)).await.result.unwrap();
    let state = first
        .provider_state
        .clone()
        .unwrap_or_else(|| panic!("{personality:?} stream={stream}: no reasoning kept"));
    assert_eq!(
        (state.wire.as_str(), state.model.as_str()),
        ("openai", "test-model")
    );
    let answer = Message::assistant_with_state(first.text, first.tool_calls, first.provider_state);
    let second = complete(&*client, &after_tool_step(stream, answer)).await;
    let second = second.result.unwrap_or_else(|error| {
        panic!("{personality:?} stream={stream}: the second step was refused: {error}")
    });
    assert_eq!(second.text, "Done.");
    (server, state)
}

#[tokio::test]
async fn deepseek_gets_its_reasoning_content_back_within_the_turn() {
    for stream in [true, false] {
        let (server, state) = reasoning_round_trip(Personality::DeepSeek, stream).await;
        let expected = Personality::reasoning_content_for(Some("call_1"));
        assert_eq!(state.fields["reasoning_content"], expected.as_str());
        let replayed = &server.requests()[1].body["messages"][2];
        assert_eq!(
            replayed["reasoning_content"],
            expected.as_str(),
            "{replayed}"
        );
    }
}

#[tokio::test]
async fn openrouter_gets_its_reasoning_details_back_merged_by_index() {
    for stream in [true, false] {
        let (server, state) = reasoning_round_trip(Personality::OpenRouter, stream).await;
        let details = state.fields["reasoning_details"].as_array().unwrap();
        assert_eq!(details.len(), 2, "{details:?}");
        assert_eq!(details[0]["text"], "Thinking it over.");
        assert_eq!(details[1]["data"], "sig-call_1");
        let replayed = &server.requests()[1].body["messages"][2];
        assert_eq!(replayed["reasoning_details"], json!(details), "{replayed}");
    }
}

#[tokio::test]
async fn reasoning_is_not_replayed_to_another_model_or_turn() {
    let server = ScriptedServer::start(Script::new(vec![Step::text("ok"), Step::text("ok")]))
        .await
        .unwrap();
    let client = openai_provider(&server);
    let mut fields = serde_json::Map::new();
    fields.insert("reasoning_content".into(), json!("thoughts"));
    fields.insert(
        "reasoning_details".into(),
        json!([{"type": "reasoning.encrypted", "data": "x"}]),
    );
    let state = ProviderState {
        wire: "openai".into(),
        model: "deepseek-chat".into(),
        fields,
    };
    let answer = Message::assistant_with_state("", vec![read_call()], Some(state));
    // Another model: nothing of the state goes.
    let other_model = after_tool_step(false, answer.clone());
    complete(&*client, &other_model).await.result.unwrap();
    // The same model in a later turn: the details go, DeepSeek's reasoning does not.
    let mut later_turn = after_tool_step(false, answer);
    later_turn.model = "deepseek-chat".into();
    later_turn.messages.push(Message::user("next question"));
    complete(&*client, &later_turn).await.result.unwrap();
    let requests = server.requests();
    let first = &requests[0].body["messages"][2];
    assert!(
        first.get("reasoning_content").is_none() && first.get("reasoning_details").is_none(),
        "{first}"
    );
    let second = &requests[1].body["messages"][2];
    assert!(second.get("reasoning_content").is_none(), "{second}");
    assert_eq!(second["reasoning_details"][0]["data"], "x", "{second}");
}

#[tokio::test]
async fn openrouter_errors_carry_the_upstream_provider_and_its_raw_message() {
    let server = server_as(
        Personality::OpenRouter,
        vec![Step::http_error(400, "Provider returned error")],
    )
    .await;
    let error = complete(&*openai_provider(&server), &request(true))
        .await
        .result
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains(OPENROUTER_UPSTREAM_PROVIDER), "{message}");
    assert!(
        message.contains("upstream: Provider returned error"),
        "{message}"
    );

    let server = server_as(
        Personality::OpenRouter,
        vec![Step::stream_error("Par", "Provider disconnected")],
    )
    .await;
    let client = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings.max_retries = 0;
    });
    let error = complete(&*client, &request(true)).await.result.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ModelError::ServerReported { .. }),
        "{error:?}"
    );
    assert!(message.contains(OPENROUTER_UPSTREAM_PROVIDER), "{message}");
    assert!(
        message.contains("upstream: Provider disconnected"),
        "{message}"
    );
}

#[tokio::test]
async fn an_error_inside_a_stream_is_an_error_in_every_servers_shape() {
    for personality in [Personality::OpenAi, Personality::LlamaCpp] {
        let server = server_as(
            personality,
            vec![Step::stream_error("Hel", "the KV cache is full")],
        )
        .await;
        let client = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
            settings.max_retries = 0;
        });
        let outcome = complete(&*client, &request(true)).await;
        let error = outcome.result.expect_err("an error, not an empty answer");
        assert!(
            matches!(error, ModelError::ServerReported { .. }),
            "{personality:?}: {error:?}"
        );
        assert!(
            error.to_string().contains("the KV cache is full"),
            "{personality:?}: {error}"
        );
    }
}

#[tokio::test]
async fn ollamas_empty_chunk_and_close_says_the_stream_ended_without_a_finish_reason() {
    let server = server_as(
        Personality::Ollama,
        vec![Step::stream_error("Hel", "model runner crashed")],
    )
    .await;
    let client = provider_with(ProviderKind::OpenAi, server.openai_base_url(), |settings| {
        settings.max_retries = 0;
    });
    let error = complete(&*client, &request(true)).await.result.unwrap_err();
    assert!(
        matches!(error, ModelError::StreamInterrupted { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("without a finish reason"), "{message}");
    assert!(message.contains("Ollama"), "{message}");
}

#[tokio::test]
async fn the_output_limit_parallel_calls_and_no_sampling_are_sent() {
    let server = ScriptedServer::start(Script::new(vec![Step::text("ok")]))
        .await
        .unwrap();
    complete(&*openai_provider(&server), &request(true))
        .await
        .result
        .unwrap();
    let body = &server.requests()[0].body;
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["parallel_tool_calls"], true);
    assert!(
        body.get("temperature").is_none() && body.get("top_p").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn a_call_cut_off_at_the_output_limit_is_reported_as_max_tokens() {
    for stream in [true, false] {
        let server = ScriptedServer::start(Script::new(vec![Step::tool_call_cut_off(
            "call_w",
            "write_file",
            r#"{"path":"big.txt","content":"aaaa"#,
        )]))
        .await
        .unwrap();
        let response = complete(&*openai_provider(&server), &request(stream))
            .await
            .result
            .unwrap();
        assert_eq!(
            response.stop_reason,
            StopReason::MaxTokens,
            "stream={stream}"
        );
        assert_eq!(response.tool_calls.len(), 1);
    }
}
