//! End-to-end tests of the agent loop: the real `hearth` binary against the scripted
//! model server over loopback, in both wire formats, streaming and not.

use crate::common;

use common::*;
use hearth_testkit::{Personality, ScriptedCall, Step};

fn five_step_script() -> Vec<Step> {
    vec![
        Step::tool_call(
            "call_write",
            "write_file",
            r#"{"path":"notes/hello.txt","content":"hello world\n"}"#,
        ),
        Step::tool_call("call_read", "read_file", r#"{"path":"notes/hello.txt"}"#),
        Step::tool_call(
            "call_edit",
            "edit_file",
            r#"{"path":"notes/hello.txt","old_string":"world","new_string":"hearth"}"#,
        ),
        Step::tool_call(
            "call_exec",
            "exec",
            r#"{"command":"cat notes/hello.txt && echo ran > notes/exec.txt"}"#,
        ),
        Step::text("All done: the note says hello hearth."),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_five_step_task_works_over_both_wires_streaming_and_not() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(five_step_script()).await;
        let output = env
            .hearth(
                flavor,
                &[
                    "run",
                    "--sandbox",
                    "full-access",
                    "write, read, edit, run, answer",
                ],
            )
            .await;
        let context = format!(
            "{flavor:?}\nstdout: {}\nstderr: {}",
            stdout(&output),
            stderr(&output)
        );
        assert!(output.status.success(), "{context}");
        assert!(
            stdout(&output).contains("All done: the note says hello hearth."),
            "{context}"
        );
        let note = std::fs::read_to_string(env.workspace().join("notes/hello.txt")).unwrap();
        assert_eq!(note, "hello hearth\n", "{context}");
        let ran = std::fs::read_to_string(env.workspace().join("notes/exec.txt")).unwrap();
        assert_eq!(ran, "ran\n", "{context}");

        let requests = env.server().requests();
        assert_eq!(requests.len(), 5, "{context}");
        let last = &requests[4];
        assert_eq!(
            call_ids(last),
            ["call_write", "call_read", "call_edit", "call_exec"],
            "{context}"
        );
        let answers = results(last);
        assert!(
            answers[1].1.contains("hello world"),
            "read_file result: {}",
            answers[1].1
        );
        assert!(
            answers[3].1.contains("hello hearth"),
            "exec result: {}",
            answers[3].1
        );
        // The fixed prefix is byte-identical across the turn's requests.
        let system = system_text(&requests[0]);
        assert!(!system.is_empty());
        assert!(
            requests.iter().all(|r| system_text(r) == system),
            "{context}"
        );
        assert!(
            requests.iter().all(|r| r.body["stream"] == flavor.stream),
            "{context}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_calls_are_all_answered_in_call_order() {
    for flavor in ALL_FLAVORS {
        let calls = vec![
            ScriptedCall::new("call_a", "write_file", r#"{"path":"a.txt","content":"A"}"#),
            ScriptedCall::new("call_r", "read_file", r#"{"path":"a.txt"}"#),
            ScriptedCall::new("call_b", "write_file", r#"{"path":"b.txt","content":"B"}"#),
            ScriptedCall::new("call_c", "list_dir", r#"{"path":"."}"#),
        ];
        let env = TestEnv::start(vec![
            Step::tool_calls("Writing two files.", calls),
            Step::text("ok"),
        ])
        .await;
        let output = env.hearth(flavor, &["run", "write a and b"]).await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        assert_eq!(
            std::fs::read_to_string(env.workspace().join("b.txt")).unwrap(),
            "B"
        );
        let requests = env.server().requests();
        assert_eq!(
            call_ids(&requests[1]),
            ["call_a", "call_r", "call_b", "call_c"]
        );
        // A read after a write in the same step sees what was written: calls that change
        // things run alone, in order.
        let answers = results(&requests[1]);
        assert!(answers[1].1.contains('A'), "{flavor:?} {:?}", answers[1]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_json_and_unknown_tools_become_errors_the_model_recovers_from() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![
            Step::tool_call(
                "call_broken",
                "write_file",
                r#"{"path": "x.txt", "content": "#,
            ),
            Step::tool_call("call_unknown", "frobnicate", "{}"),
            Step::text("Recovered."),
        ])
        .await;
        let output = env.hearth(flavor, &["run", "try things"]).await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        assert!(stdout(&output).contains("Recovered."));
        let requests = env.server().requests();
        assert_eq!(requests.len(), 3);
        let answers = results(&requests[2]);
        // Anthropic's non-streaming wire carries `input` as an object, so broken JSON
        // cannot arrive that way; the scripted server sends `{}` and the tool says what
        // is missing instead.
        let expected = if flavor.provider == "anthropic" && !flavor.stream {
            "missing field `path`"
        } else {
            "not valid JSON"
        };
        assert!(
            answers[0].1.contains(expected),
            "{flavor:?} {:?}",
            answers[0]
        );
        assert!(
            answers[1].1.contains("unknown tool 'frobnicate'"),
            "{:?}",
            answers[1]
        );
        assert!(
            answers[1].1.contains("read_file"),
            "lists the available tools"
        );
        // The history sent back carries every call's arguments as a JSON object, which
        // servers that parse it (vLLM, llama.cpp's) require.
        for message in messages(&requests[2]) {
            for call in message["tool_calls"].as_array().into_iter().flatten() {
                let arguments = call["function"]["arguments"].as_str().unwrap_or("");
                let parsed: serde_json::Value = serde_json::from_str(arguments)
                    .unwrap_or_else(|e| panic!("{flavor:?}: {arguments:?}: {e}"));
                assert!(parsed.is_object(), "{flavor:?}: {arguments}");
            }
        }
        assert!(!env.workspace().join("x.txt").exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_server_errors_are_retried() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![
            Step::http_error(429, "slow down").with_retry_after(0),
            Step::http_error(500, "upstream hiccup"),
            Step::text("Made it."),
        ])
        .await;
        let output = env.hearth(flavor, &["run", "hello"]).await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        assert!(stdout(&output).contains("Made it."));
        assert!(stderr(&output).contains("retrying"), "{}", stderr(&output));
        assert_eq!(env.server().requests().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_key_fails_at_once_with_one_clear_line() {
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![Step::http_error(401, "Incorrect API key provided")]).await;
        let output = env.hearth(flavor, &["run", "hello"]).await;
        assert!(!output.status.success());
        let err = stderr(&output);
        assert!(err.contains("401"), "{err}");
        assert!(err.contains(flavor.provider), "{err}");
        assert!(err.contains("Incorrect API key provided"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert_eq!(env.server().requests().len(), 1, "401 is not retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_failing_call_repeated_is_stopped() {
    let flavor = ALL_FLAVORS[0];
    let repeat = || Step::tool_call("call_again", "read_file", r#"{"path":"missing.txt"}"#);
    let env = TestEnv::start(vec![
        repeat(),
        repeat(),
        repeat(),
        repeat(),
        repeat(),
        Step::text("never"),
    ])
    .await;
    let output = env.hearth(flavor, &["run", "read it"]).await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("kept failing"),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.server().requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_step_limit_stops_the_turn() {
    let flavor = ALL_FLAVORS[2];
    let step = |i: u32| Step::tool_call(format!("call_{i}"), "list_dir", r#"{"path":"."}"#);
    let env = TestEnv::start((0..5).map(step).collect()).await;
    let output = env
        .hearth(flavor, &["run", "--max-steps", "2", "loop"])
        .await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--max-steps"),
        "{}",
        stderr(&output)
    );
    assert_eq!(env.server().requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_mode_prints_one_event_per_line() {
    let flavor = ALL_FLAVORS[0];
    let env = TestEnv::start(vec![
        Step::tool_call("call_1", "list_dir", r#"{"path":"."}"#),
        Step::text("Listed."),
    ])
    .await;
    let output = env.hearth(flavor, &["run", "--json", "list"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let events: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for expected in [
        "session_started",
        "tool_call",
        "tool_result",
        "usage",
        "text_delta",
        "final",
    ] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    let last = events.last().unwrap();
    assert_eq!(last["type"], "final");
    assert_eq!(last["text"], "Listed.");
    // The `final` event says why the turn ended (`end`), apart from why the model
    // stopped; the loop itself says the session started, once, first.
    assert_eq!(last["end"], serde_json::json!({"kind": "completed"}));
    assert_eq!(types.first(), Some(&"session_started"));
    assert_eq!(types.iter().filter(|t| **t == "session_started").count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_outside_the_sandbox_needs_an_approval_that_a_script_cannot_give() {
    let flavor = ALL_FLAVORS[0];
    let env = TestEnv::start(vec![
        Step::tool_call(
            "call_1",
            "exec",
            r#"{"command":"touch escaped","escalate":true}"#,
        ),
        Step::text("Could not."),
    ])
    .await;
    let output = env.hearth(flavor, &["run", "escape"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let answers = results(&env.server().requests()[1]);
    assert!(answers[0].1.contains("not allowed"), "{:?}", answers[0]);
    assert!(answers[0].1.contains("no terminal"), "{:?}", answers[0]);
    assert!(!env.workspace().join("escaped").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_policy_refuses_unlisted_commands_without_a_terminal_but_runs_safe_ones() {
    let flavor = ALL_FLAVORS[0];
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "",
            vec![
                ScriptedCall::new("call_safe", "exec", r#"{"command":"ls -a"}"#),
                ScriptedCall::new("call_unsafe", "exec", r#"{"command":"touch made; ls"}"#),
            ],
        ),
        Step::text("Done."),
    ])
    .await;
    std::fs::write(env.workspace().join("visible.txt"), "x").unwrap();
    let output = env
        .hearth(
            flavor,
            &[
                "run",
                "--approval",
                "untrusted",
                "--sandbox",
                "full-access",
                "go",
            ],
        )
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let answers = results(&env.server().requests()[1]);
    assert!(answers[0].1.contains("visible.txt"), "{:?}", answers[0]);
    assert!(answers[1].1.contains("not allowed"), "{:?}", answers[1]);
    assert!(!env.workspace().join("made").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_dropped_mid_answer_is_retried_and_the_restart_is_said() {
    for flavor in ALL_FLAVORS.into_iter().filter(|f| f.stream) {
        let env = TestEnv::start(vec![
            Step::drop_mid_stream("The answer is fo"),
            Step::text("The answer is forty-two."),
        ])
        .await;
        let output = env.hearth(flavor, &["run", "what is the answer"]).await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        assert!(stdout(&output).contains("The answer is forty-two."));
        assert!(
            stderr(&output).contains("partial answer above is discarded"),
            "{flavor:?} {}",
            stderr(&output)
        );
        assert_eq!(env.server().requests().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runaway_answer_stops_the_turn_and_stores_nothing_oversized() {
    let cap = hearth_models::DEFAULT_MAX_TEXT_BYTES;
    for flavor in ALL_FLAVORS {
        let env = TestEnv::start(vec![Step::text_flood(4 * cap as u64)]).await;
        let output = env.hearth(flavor, &["run", "write forever"]).await;
        assert_eq!(output.status.code(), Some(1), "{flavor:?}");
        let err = stderr(&output);
        assert!(err.contains("max_text_bytes"), "{flavor:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert_eq!(env.server().requests().len(), 1, "not retried");

        let listed = env.hearth(flavor, &["sessions", "list", "--json"]).await;
        let sessions: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
        let id = sessions[0]["id"]
            .as_str()
            .expect("a session id")
            .to_string();
        let shown = env
            .hearth(flavor, &["sessions", "show", "--json", &id])
            .await;
        let session: serde_json::Value = serde_json::from_str(&stdout(&shown)).expect("JSON");
        let messages = session["messages"].as_array().expect("messages");
        assert!(!messages.is_empty(), "the user message is kept");
        for message in messages {
            let size = message.to_string().len();
            assert!(size < cap, "{flavor:?}: a stored message of {size} bytes");
            assert_ne!(message["role"], "assistant", "{flavor:?}: {message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_step_tool_task_succeeds_against_deepseek_and_lm_studio() {
    for personality in [Personality::DeepSeek, Personality::LmStudio] {
        for flavor in &ALL_FLAVORS[..2] {
            let env = TestEnv::start_as(
                vec![
                    Step::tool_call(
                        "call_write",
                        "write_file",
                        r#"{"path":"note.txt","content":"hi\n"}"#,
                    ),
                    Step::text("Wrote note.txt."),
                ],
                personality,
            )
            .await;
            let output = env.hearth(*flavor, &["run", "write a note"]).await;
            let context = format!("{personality:?} {flavor:?}: {}", stderr(&output));
            assert!(output.status.success(), "{context}");
            assert!(stdout(&output).contains("Wrote note.txt."), "{context}");
            assert_eq!(
                std::fs::read_to_string(env.workspace().join("note.txt")).unwrap(),
                "hi\n"
            );
            let requests = env.server().requests();
            assert_eq!(requests.len(), 2, "{context}");
            let answer = &messages(&requests[1])[2];
            assert_eq!(answer["content"], "", "{context}");
            if personality == Personality::DeepSeek {
                assert_eq!(
                    answer["reasoning_content"],
                    Personality::reasoning_content_for(Some("call_write")).as_str(),
                    "{context}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_cut_off_at_the_output_limit_ends_the_turn_naming_the_setting() {
    let flavor = ALL_FLAVORS[0];
    let env = TestEnv::start(vec![
        Step::tool_call_cut_off(
            "call_big",
            "write_file",
            r#"{"path":"big.txt","content":"aaaa"#,
        ),
        Step::text("never"),
    ])
    .await;
    let output = env
        .hearth(flavor, &["run", "--json", "write a big file"])
        .await;
    let context = format!("stdout: {}\nstderr: {}", stdout(&output), stderr(&output));
    let last = stdout(&output)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["type"] == "final")
        .unwrap_or_else(|| panic!("no final event: {context}"));
    assert_eq!(
        last["end"],
        serde_json::json!({"kind": "truncated"}),
        "{context}"
    );
    let text = last["text"].as_str().unwrap_or_default();
    assert!(text.contains("[limits] max_output_tokens"), "{context}");
    assert_eq!(env.server().requests().len(), 1, "{context}");
    assert!(!env.workspace().join("big.txt").exists());
}
