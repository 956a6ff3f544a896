//! End to end through the binary: answers the provider stopped (refusal, content
//! filter, full context window) fail the turn with one clear line and are never sent
//! back; empty prompts are refused before anything is stored; an Ollama server's small
//! context window is reported by `hearth doctor` and before a run, its model's own
//! sampling is sent and its probe remembered between runs; Anthropic requests
//! carry a cache breakpoint on the latest message.

use crate::common;

use common::*;
use hearth_testkit::{Personality, Step, StopKind, OLLAMA_MODEL_TEMPERATURE, OLLAMA_MODEL_TOP_P};
use serde_json::Value;

const OPENAI_STREAM: Flavor = ALL_FLAVORS[0];
const ANTHROPIC_STREAM: Flavor = ALL_FLAVORS[2];

async fn only_session_id(env: &TestEnv, flavor: Flavor) -> String {
    let listed = env.hearth(flavor, &["sessions", "list", "--json"]).await;
    let sessions: Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    sessions[0]["id"].as_str().expect("an id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_answer_fails_the_turn_and_is_never_replayed() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![
            Step::provider_stop("I can't help with th", StopKind::Refusal),
            Step::text("Here is a recipe for bread."),
        ])
        .await;
        let output = env.hearth(flavor, &["run", "something refused"]).await;
        assert_eq!(output.status.code(), Some(1), "{flavor:?}");
        let err = stderr(&output);
        assert!(err.contains("the model refused"), "{flavor:?}: {err}");

        let id = only_session_id(&env, flavor).await;
        let output = env
            .hearth(flavor, &["run", "--resume", &id, "bake bread instead"])
            .await;
        assert!(output.status.success(), "{flavor:?}: {}", stderr(&output));
        assert!(stdout(&output).contains("recipe for bread"));
        let requests = env.server().requests();
        let replayed = requests[1].body.to_string();
        assert!(
            !replayed.contains("I can't help"),
            "{flavor:?}: the refused text went back: {replayed}"
        );
        assert!(replayed.contains("something refused") && replayed.contains("bake bread"));

        let shown = env
            .hearth(flavor, &["sessions", "show", "--json", &id])
            .await;
        assert!(
            stdout(&shown).contains("I can't help with th"),
            "the transcript keeps the refused text"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_content_filter_and_a_full_context_window_say_so_and_fail() {
    let cases = [
        (
            OPENAI_STREAM,
            StopKind::ContentFilter,
            "content filter stopped the answer",
        ),
        (
            ANTHROPIC_STREAM,
            StopKind::ContextWindowExceeded,
            "longer than the model's context window",
        ),
    ];
    for (flavor, stop, said) in cases {
        let env = TestEnv::start(vec![Step::provider_stop("Partial", stop)]).await;
        let output = env.hearth(flavor, &["run", "go"]).await;
        assert_eq!(output.status.code(), Some(1), "{flavor:?}");
        let err = stderr(&output);
        assert!(err.contains(said), "{flavor:?}: {err}");
        assert_eq!(env.server().requests().len(), 1, "not retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_prompt_is_a_usage_error_and_nothing_is_stored() {
    for prompt in ["", "   \n\t ", "-"] {
        let env = TestEnv::start(vec![Step::text("never")]).await;
        let output = env.hearth(OPENAI_STREAM, &["run", prompt]).await;
        assert_eq!(output.status.code(), Some(2), "{prompt:?}");
        let err = stderr(&output);
        assert!(err.contains("the prompt is empty"), "{prompt:?}: {err}");
        assert!(env.server().requests().is_empty());
        let listed = env
            .hearth(OPENAI_STREAM, &["sessions", "list", "--json"])
            .await;
        let sessions: Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
        assert_eq!(sessions, Value::Array(Vec::new()), "{prompt:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_reports_a_small_ollama_window_and_how_to_raise_it() {
    let env = TestEnv::start_as(vec![Step::text("OK")], Personality::Ollama).await;
    let output = env.hearth(OPENAI_STREAM, &["doctor"]).await;
    let out = stdout(&output);
    let line = out
        .lines()
        .find(|line| line.contains("context:"))
        .unwrap_or_else(|| panic!("no context line: {out}"));
    assert!(line.starts_with('!'), "a warning: {line}");
    assert!(line.contains("4096 tokens"), "{line}");
    assert!(line.contains("OLLAMA_CONTEXT_LENGTH=32768"), "{line}");
    assert!(line.contains("num_ctx"), "{line}");

    let plain = TestEnv::start(vec![Step::text("OK")]).await;
    let output = plain.hearth(OPENAI_STREAM, &["doctor"]).await;
    assert!(!stdout(&output).contains("context:"), "not Ollama");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_against_a_small_ollama_window_warns_once_before_the_request() {
    let env = TestEnv::start_as(vec![Step::text("Hello.")], Personality::Ollama).await;
    let output = env.hearth(OPENAI_STREAM, &["run", "hi"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|line| line.contains("OLLAMA_CONTEXT_LENGTH"))
        .collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("4096"), "{err}");

    let plain = TestEnv::start(vec![Step::text("Hello.")]).await;
    let output = plain.hearth(OPENAI_STREAM, &["run", "hi"]).await;
    assert!(!stderr(&output).contains("OLLAMA_CONTEXT_LENGTH"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ollama_models_own_sampling_is_sent_and_the_probe_is_remembered() {
    let env = TestEnv::start_as(
        vec![Step::text("One."), Step::text("Two."), Step::text("Three.")],
        Personality::Ollama,
    )
    .await;
    let first = env.hearth(OPENAI_STREAM, &["run", "hi"]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    let body = &env.server().requests()[0].body;
    assert_eq!(
        (&body["temperature"], &body["top_p"]),
        (
            &serde_json::json!(OLLAMA_MODEL_TEMPERATURE),
            &serde_json::json!(OLLAMA_MODEL_TOP_P)
        ),
        "Ollama's /v1 would sample at 1.0 without them: {body}"
    );
    let probes = env.server().native_api_calls();
    assert_eq!(probes, ["/api/version", "/api/show", "/api/ps"]);

    // The second run asks the remembered answer, not the server, and still warns.
    let second = env.hearth(OPENAI_STREAM, &["run", "again"]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(env.server().native_api_calls(), probes, "no second probe");
    assert!(stderr(&second).contains("OLLAMA_CONTEXT_LENGTH"));
    assert_eq!(
        env.server().requests()[1].body["temperature"],
        OLLAMA_MODEL_TEMPERATURE
    );

    // Config wins over the Modelfile, value by value.
    env.write_config("[models.\"openai:scripted-model\"]\ntemperature = 0.1\n");
    let third = env.hearth(OPENAI_STREAM, &["run", "once more"]).await;
    assert!(third.status.success(), "{}", stderr(&third));
    let body = &env.server().requests()[2].body;
    assert_eq!(
        (&body["temperature"], &body["top_p"]),
        (
            &serde_json::json!(0.1),
            &serde_json::json!(OLLAMA_MODEL_TOP_P)
        ),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_requests_cache_the_history_up_to_the_latest_message() {
    let env = TestEnv::start(vec![
        Step::tool_call("toolu_1", "list_dir", r#"{"path":"."}"#),
        Step::text("Listed."),
    ])
    .await;
    let output = env.hearth(ANTHROPIC_STREAM, &["run", "list it"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let requests = env.server().requests();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        let messages = messages(request);
        let last_block = messages
            .last()
            .and_then(|message| message["content"].as_array())
            .and_then(|blocks| blocks.last())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            last_block["cache_control"],
            serde_json::json!({"type": "ephemeral"}),
            "{last_block}"
        );
        let breakpoints = request.body.to_string().matches("cache_control").count();
        assert!(breakpoints <= 4, "Anthropic allows 4, got {breakpoints}");
    }
    assert_eq!(
        messages(&requests[1]).last().unwrap()["content"][0]["type"],
        "tool_result"
    );
}
