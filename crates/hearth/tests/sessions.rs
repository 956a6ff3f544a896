//! Durable sessions end to end: kill -9 mid-turn and resume, Ctrl-C mid-tool, session
//! listing, plus the config and context commands a user checks first.

use crate::common;

use common::*;
use hearth_testkit::Step;

fn send_signal(child: &tokio::process::Child, signal: i32) {
    let pid = child.id().expect("child running") as i32;
    // SAFETY: kill(2) on a child we own; no memory is involved.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "signal delivered");
}

async fn only_session_id(env: &TestEnv) -> String {
    let output = env
        .hearth(ALL_FLAVORS[0], &["sessions", "list", "--json"])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON array");
    let sessions = sessions.as_array().expect("array");
    assert_eq!(sessions.len(), 1);
    for key in ["id", "title", "created_at", "updated_at"] {
        assert!(sessions[0].get(key).is_some(), "sessions list has {key}");
    }
    sessions[0]["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_mid_tool_resumes_with_a_valid_history() {
    for flavor in [ALL_FLAVORS[0], ALL_FLAVORS[2]] {
        let mut env = TestEnv::start(vec![
            Step::tool_call(
                "call_note",
                "write_file",
                r#"{"path":"kept.txt","content":"kept"}"#,
            ),
            Step::tool_call(
                "call_slow",
                "exec",
                r#"{"command":"touch started && sleep 20"}"#,
            ),
            Step::text("never reached"),
        ])
        .await;
        let mut child = env.spawn(
            flavor,
            &["run", "--sandbox", "full-access", "do the slow thing"],
        );
        wait_for_file(&env.workspace().join("started")).await;
        send_signal(&child, libc::SIGKILL);
        let status = child.wait().await.expect("waited");
        assert!(!status.success());

        let id = only_session_id(&env).await;
        env.restart_server(vec![Step::text("Resumed fine.")]).await;
        let output = env
            .hearth(flavor, &["run", "--resume", &id[..8], "carry on"])
            .await;
        assert!(output.status.success(), "{flavor:?} {}", stderr(&output));
        assert!(stdout(&output).contains("Resumed fine."));

        let request = &env.server().requests()[0];
        assert_eq!(user_texts(request), ["do the slow thing", "carry on"]);
        assert_eq!(call_ids(request), ["call_note", "call_slow"]);
        let answers = results(request);
        assert!(answers[0].1.contains("kept.txt"), "{:?}", answers[0]);
        assert!(answers[1].1.contains("interrupted"), "{:?}", answers[1]);
        assert_eq!(
            std::fs::read_to_string(env.workspace().join("kept.txt")).unwrap(),
            "kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_while_the_model_answers_keeps_the_user_message() {
    let flavor = ALL_FLAVORS[0];
    let mut env = TestEnv::start(vec![Step::hang()]).await;
    let mut child = env.spawn(flavor, &["run", "remember this question"]);
    for _ in 0..600 {
        if !env.server().requests().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    send_signal(&child, libc::SIGKILL);
    child.wait().await.expect("waited");
    let id = only_session_id(&env).await;
    env.restart_server(vec![Step::text("Answered now.")]).await;
    let output = env
        .hearth(flavor, &["run", "--resume", &id, "are you there?"])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let request = &env.server().requests()[0];
    assert_eq!(
        user_texts(request),
        ["remember this question", "are you there?"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_cancels_pending_calls_and_leaves_a_valid_session() {
    let flavor = ALL_FLAVORS[2];
    let mut env = TestEnv::start(vec![Step::tool_call(
        "call_wait",
        "exec",
        r#"{"command":"touch started && sleep 30 && touch finished"}"#,
    )])
    .await;
    let child = env.spawn(flavor, &["run", "--sandbox", "full-access", "wait a while"]);
    wait_for_file(&env.workspace().join("started")).await;
    send_signal(&child, libc::SIGINT);
    let output = child.wait_with_output().await.expect("waited");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
    assert!(!env.workspace().join("finished").exists());

    let id = only_session_id(&env).await;
    env.restart_server(vec![Step::text("ok")]).await;
    let output = env
        .hearth(flavor, &["run", "--resume", &id, "never mind"])
        .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let request = &env.server().requests()[0];
    let answers = results(request);
    assert!(answers[0].1.contains("cancelled"), "{:?}", answers[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_show_prints_the_transcript() {
    let flavor = ALL_FLAVORS[1];
    let env = TestEnv::start(vec![
        Step::tool_call("call_1", "write_file", r#"{"path":"a.txt","content":"A"}"#),
        Step::text("Wrote a.txt."),
    ])
    .await;
    assert!(env
        .hearth(flavor, &["run", "write a"])
        .await
        .status
        .success());
    let id = only_session_id(&env).await;
    let output = env.hearth(flavor, &["sessions", "show", &id]).await;
    let text = stdout(&output);
    assert!(
        text.contains("user: write a")
            && text.contains("write_file")
            && text.contains("Wrote a.txt."),
        "{text}"
    );
    let output = env
        .hearth(flavor, &["sessions", "show", "--json", &id])
        .await;
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(value["messages"].as_array().map(Vec::len), Some(4));
    let missing = env.hearth(flavor, &["sessions", "show", "nope-nope"]).await;
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("sessions list"),
        "{}",
        stderr(&missing)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_config_names_the_line_and_loses_nothing() {
    let env = TestEnv::start(vec![]).await;
    env.write_config("# my settings\n[limits]\nmax_steps = \"many\"\n");
    let output = env.hearth(ALL_FLAVORS[0], &["run", "hello"]).await;
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("config.toml line 3"), "{err}");
    assert_eq!(env.server().requests().len(), 0);
    let config = std::fs::read_to_string(env.home.path().join("config.toml")).unwrap();
    assert!(config.contains("many"), "the user's file is untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_model_configured_says_how_to_configure_one() {
    let env = TestEnv::start(vec![]).await;
    let mut cmd = env.command("openai");
    cmd.env_remove("HEARTH_MODEL").args(["run", "hello"]);
    let output = cmd.output().await.expect("ran");
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("no model configured") && err.contains("--model"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn context_reports_a_fixed_overhead_under_eight_thousand_characters() {
    let env = TestEnv::start(vec![]).await;
    let output = env.hearth(ALL_FLAVORS[0], &["context", "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let fixed = report["fixed_chars"].as_u64().expect("fixed_chars");
    println!("fixed prompt overhead: {fixed} characters");
    assert!(fixed <= 8_000, "fixed overhead {fixed} > 8000");
    let names: Vec<&str> = report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for tool in [
        "read_file",
        "write_file",
        "edit_file",
        "list_dir",
        "glob",
        "grep",
        "exec",
        "web_fetch",
    ] {
        assert!(
            names.contains(&format!("tool {tool}").as_str()),
            "{tool} in {names:?}"
        );
    }
}
