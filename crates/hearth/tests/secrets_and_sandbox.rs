//! Secrets and the sandbox through the real binary: values reach a sandboxed command's
//! environment but never the model, the transcript or the database; `hearth sandbox run`
//! keeps commands in the workspace.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use common::*;
use hearth_testkit::{ScriptedCall, Step};

const SECRET: &str = "ghp_Sup3rSecretValue42";

/// Stores SECRET as the secret `github` and hands it to sandboxed commands as GH_TOKEN.
fn store_github_token_for_commands(env: &TestEnv) {
    let file = env.home.path().join("secrets.json");
    std::fs::write(&file, format!("{{\"github\": \"{SECRET}\"}}")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    env.write_config("[sandbox]\nenv = { GH_TOKEN = \"secret:github\" }\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_stored_owner_only_and_never_printed() {
    let env = TestEnv::start(vec![]).await;
    let mut cmd = env.command("openai");
    cmd.args(["secrets", "set", "github"]).stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawned");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        tokio::io::AsyncWriteExt::write_all(&mut stdin, format!("{SECRET}\n").as_bytes())
            .await
            .unwrap();
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains(SECRET) && !stderr(&output).contains(SECRET));

    let file = env.home.path().join("secrets.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let list = env.hearth(ALL_FLAVORS[0], &["secrets", "list"]).await;
    assert_eq!(stdout(&list).trim(), "github");
    assert!(!stdout(&list).contains(SECRET));
    let bad = env
        .hearth(ALL_FLAVORS[0], &["secrets", "set", "has space"])
        .await;
    assert!(!bad.status.success());
    let rm = env
        .hearth(ALL_FLAVORS[0], &["secrets", "rm", "github"])
        .await;
    assert!(rm.status.success());
    assert!(
        stdout(&env.hearth(ALL_FLAVORS[0], &["secrets", "list"]).await)
            .trim()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_reaches_the_sandboxed_command_but_never_the_model_or_the_transcript() {
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "",
            vec![
                ScriptedCall::new(
                    "call_use",
                    "exec",
                    r#"{"command":"echo token=$GH_TOKEN; printf %s \"$GH_TOKEN\" > used.txt"}"#,
                ),
                ScriptedCall::new(
                    "call_steal",
                    "exec",
                    r#"{"command":"cat ../secrets.json; cat \"$HOME/../secrets.json\"; ls -a .."}"#,
                ),
            ],
        ),
        Step::text("Used it."),
    ])
    .await;
    store_github_token_for_commands(&env);

    let output = env.hearth(ALL_FLAVORS[0], &["run", "use the token"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    // Injected at the boundary: the sandboxed command had the value.
    assert_eq!(
        std::fs::read_to_string(env.workspace().join("used.txt")).unwrap(),
        SECRET
    );
    // The model saw only the name.
    let request = &env.server().requests()[1];
    let answers = results(request);
    assert!(
        answers[0].1.contains("token=[secret:github]"),
        "{:?}",
        answers[0]
    );
    assert!(
        !answers[1].1.contains(SECRET),
        "the sandbox hides secrets.json: {:?}",
        answers[1]
    );
    for recorded in env.server().requests() {
        assert!(
            !recorded.body.to_string().contains(SECRET),
            "secret sent to the model"
        );
    }
    // Nor is it in the transcript or anywhere in the state database.
    let id = {
        let list = env
            .hearth(ALL_FLAVORS[0], &["sessions", "list", "--json"])
            .await;
        let sessions: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
        sessions[0]["id"].as_str().unwrap().to_string()
    };
    let show = env
        .hearth(ALL_FLAVORS[0], &["sessions", "show", "--json", &id])
        .await;
    assert!(!stdout(&show).contains(SECRET));
    for file in ["state.db", "state.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home.path().join(file)) {
            let haystack = String::from_utf8_lossy(&bytes);
            assert!(!haystack.contains(SECRET), "{file} holds the secret");
        }
    }
}

/// Security review, finding 5: the model got the secret reversed and base64-encoded
/// from a command's output, decoded it, and sent the raw value out in a tool call; it
/// ended up in state.db too. Encoded forms are redacted in the output, and the
/// model's own text and call arguments are redacted before they are stored or run.
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_the_model_decoded_is_neither_stored_nor_sent_on() {
    let env = TestEnv::start(vec![
        Step::tool_calls(
            "",
            vec![ScriptedCall::new(
                "call_leak",
                "exec",
                r#"{"command":"printf %s \"$GH_TOKEN\" | rev; echo; printf %s \"$GH_TOKEN\" | base64 -w0"}"#,
            )],
        ),
        // An obedient model that decoded the value sends it on, and says it.
        Step::tool_calls(
            format!("Found it: {SECRET}"),
            vec![ScriptedCall::new(
                "call_send",
                "exec",
                format!(r#"{{"command":"printf %s '{SECRET}' > sent.txt"}}"#),
            )],
        ),
        Step::text("Sent."),
    ])
    .await;
    store_github_token_for_commands(&env);

    let output = env.hearth(ALL_FLAVORS[0], &["run", "leak the token"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let answers = results(&env.server().requests()[1]);
    assert_eq!(
        answers[0].1.matches("[secret:github]").count(),
        2,
        "{answers:?}"
    );
    // The call ran with what was stored: the name, not the value.
    assert_eq!(
        std::fs::read_to_string(env.workspace().join("sent.txt")).unwrap(),
        "[secret:github]"
    );
    for file in ["state.db", "state.db-wal", "memory.db", "memory.db-wal"] {
        if let Ok(bytes) = std::fs::read(env.home.path().join(file)) {
            let haystack = String::from_utf8_lossy(&bytes);
            assert!(!haystack.contains(SECRET), "{file} holds the secret");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_is_named_with_the_command_that_stores_it() {
    let env = TestEnv::start(vec![Step::text("unused")]).await;
    env.write_config("[sandbox]\nenv = { GH_TOKEN = \"secret:github\" }\n");
    let output = env.hearth(ALL_FLAVORS[0], &["run", "hello"]).await;
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("hearth secrets set github"), "{err}");
    assert!(err.contains("GH_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_run_confines_writes_and_passes_the_exit_status_through() {
    let env = TestEnv::start(vec![]).await;
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("escaped.txt");
    let script = format!("echo inside > in.txt && echo out > {}", target.display());

    let sandboxed = env
        .hearth(
            ALL_FLAVORS[0],
            &["sandbox", "run", "--", "sh", "-c", &script],
        )
        .await;
    assert!(!sandboxed.status.success(), "write outside must fail");
    assert!(!target.exists());
    assert_eq!(
        std::fs::read_to_string(env.workspace().join("in.txt")).unwrap(),
        "inside\n"
    );

    let full = env
        .hearth(
            ALL_FLAVORS[0],
            &[
                "sandbox",
                "run",
                "--mode",
                "full-access",
                "--",
                "sh",
                "-c",
                &script,
            ],
        )
        .await;
    assert!(full.status.success(), "{}", stderr(&full));
    assert!(
        target.exists(),
        "the same command works without the sandbox"
    );

    let status = env
        .hearth(
            ALL_FLAVORS[0],
            &["sandbox", "run", "--", "sh", "-c", "echo hi; exit 7"],
        )
        .await;
    assert_eq!(status.status.code(), Some(7));
    assert_eq!(stdout(&status), "hi\n");
    let net = env
        .hearth(
            ALL_FLAVORS[0],
            &[
                "sandbox",
                "run",
                "--",
                "sh",
                "-c",
                "echo > /dev/tcp/127.0.0.1/9 && echo connected",
            ],
        )
        .await;
    assert!(!stdout(&net).contains("connected"));
}

#[tokio::test(flavor = "multi_thread")]
async fn approval_decisions_are_recorded_in_the_session() {
    let env = TestEnv::start(vec![
        Step::tool_call(
            "call_1",
            "exec",
            r#"{"command":"rm -rf /","escalate":true}"#,
        ),
        Step::text("Refused, fine."),
    ])
    .await;
    let output = env.hearth(ALL_FLAVORS[0], &["run", "clean up"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let list = env
        .hearth(ALL_FLAVORS[0], &["sessions", "list", "--json"])
        .await;
    let sessions: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    let id = sessions[0]["id"].as_str().unwrap().to_string();
    let show = env
        .hearth(ALL_FLAVORS[0], &["sessions", "show", "--json", &id])
        .await;
    let value: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    let approvals = value["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["command"], "rm -rf /");
    assert!(approvals[0]["decision"]
        .as_str()
        .unwrap()
        .starts_with("denied"));
}
