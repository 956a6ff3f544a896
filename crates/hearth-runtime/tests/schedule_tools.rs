//! The model's scheduling tools and the `[now: …]` line through the real runtime: an
//! agent built by `Resolved::agent` against the scripted model server over a real
//! socket, with real SQLite. The model creates, lists and cancels a job (stored with
//! origin `model`); a denying approver leaves no job; the system prompt and tool schemas
//! are byte-identical across two turns at different times while each user message
//! carries its own time.

use std::ffi::OsString;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hearth_agent::NowLine;
use hearth_runtime::{Environment, Overrides, Resolved};
use hearth_store::{JobOrigin, Store};
use hearth_testkit::{Script, ScriptedServer, Step};
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Answers every question the same way and keeps them.
struct FixedApprover {
    approve: bool,
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl Approver for FixedApprover {
    async fn decide(&self, request: &ApprovalRequest) -> ApprovalDecision {
        self.asked.lock().unwrap().push(request.command.clone());
        if self.approve {
            ApprovalDecision::Approve
        } else {
            ApprovalDecision::Deny {
                reason: "the user said no".into(),
            }
        }
    }
}

fn resolve(home: &std::path::Path, server: &ScriptedServer) -> Resolved {
    let vars: Vec<(&str, OsString)> = vec![
        ("HEARTH_HOME", home.into()),
        ("HOME", home.into()),
        ("HEARTH_MODEL", "openai:scripted-model".into()),
        ("OPENAI_BASE_URL", server.openai_base_url().into()),
        ("OPENAI_API_KEY", "sk-test".into()),
    ];
    let env = Environment::from_vars(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    });
    hearth_runtime::resolve(&Overrides::default(), env).unwrap()
}

async fn turn(resolved: &Resolved, store: &Arc<Store>, approver: Arc<FixedApprover>, text: &str) {
    let model = resolved.model(None).unwrap();
    let session = store
        .create_session(&model.to_string(), &resolved.workspace)
        .unwrap();
    let agent = resolved
        .agent(model, store.clone(), &session.id, approver)
        .unwrap();
    agent
        .run_turn(&session.id, text, &mut |_| {}, &CancellationToken::new())
        .await
        .unwrap();
}

/// The text of every tool result in a recorded request.
fn tool_results(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "tool")
        .map(|message| message["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn the_model_creates_lists_and_cancels_a_job() {
    let home = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(Script::new(vec![
        Step::tool_call(
            "c1",
            "schedule_create",
            r#"{"name":"plumber","when":"+2h","prompt":"Remind me to call the plumber"}"#,
        ),
        Step::tool_call("c2", "schedule_list", "{}"),
        Step::text("Scheduled."),
        Step::tool_call("c3", "schedule_cancel", r#"{"name":"plumber"}"#),
        Step::text("Cancelled."),
    ]))
    .await
    .unwrap();
    let resolved = resolve(home.path(), &server);
    let store = resolved.open_store().unwrap();
    let approver = Arc::new(FixedApprover {
        approve: true,
        asked: Mutex::new(Vec::new()),
    });
    turn(
        &resolved,
        &store,
        approver.clone(),
        "remind me in 2 hours to call the plumber",
    )
    .await;

    let jobs = store.list_jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].name, "plumber");
    assert_eq!(jobs[0].origin, JobOrigin::Model);
    assert_eq!(jobs[0].prompt, "Remind me to call the plumber");
    let requests = server.requests();
    let results = tool_results(&requests[2].body);
    assert!(
        results[0].starts_with("created job 'plumber'"),
        "{results:?}"
    );
    assert!(
        results[1].contains("plumber: at ") && results[1].contains("made by you"),
        "{results:?}"
    );

    turn(
        &resolved,
        &store,
        approver.clone(),
        "cancel the plumber reminder",
    )
    .await;
    assert!(store.list_jobs().unwrap().is_empty(), "cancelled");
    let asked = approver.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "create and cancel each asked: {asked:?}");
    assert!(asked[0].starts_with("schedule_create plumber"), "{asked:?}");
    assert_eq!(server.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_denied_job_is_not_created() {
    let home = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(Script::new(vec![
        Step::tool_call(
            "c1",
            "schedule_create",
            r#"{"when":"every 30m","prompt":"Check the build"}"#,
        ),
        Step::text("Not scheduled."),
    ]))
    .await
    .unwrap();
    let resolved = resolve(home.path(), &server);
    let store = resolved.open_store().unwrap();
    let approver = Arc::new(FixedApprover {
        approve: false,
        asked: Mutex::new(Vec::new()),
    });
    turn(
        &resolved,
        &store,
        approver.clone(),
        "check the build every 30 minutes",
    )
    .await;
    assert!(store.list_jobs().unwrap().is_empty());
    assert_eq!(approver.asked.lock().unwrap().len(), 1);
    let results = tool_results(&server.requests()[1].body);
    assert!(results[0].contains("did not approve"), "{results:?}");
    assert_eq!(server.take_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn the_prefix_is_identical_across_times_while_the_user_message_carries_the_time() {
    let home = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(Script::new(vec![Step::text("a"), Step::text("b")]))
        .await
        .unwrap();
    let resolved = resolve(home.path(), &server);
    let store = resolved.open_store().unwrap();
    let model = resolved.model(None).unwrap();
    let approver = Arc::new(FixedApprover {
        approve: true,
        asked: Mutex::new(Vec::new()),
    });
    for line in [
        "[now: 2026-12-05 09:12 Europe/Berlin, Saturday]",
        "[now: 2027-03-01 17:40 Europe/Berlin, Monday]",
    ] {
        let session = store
            .create_session(&model.to_string(), &resolved.workspace)
            .unwrap();
        let mut agent = resolved
            .agent(model.clone(), store.clone(), &session.id, approver.clone())
            .unwrap();
        assert!(
            agent.settings.now_line.is_some(),
            "the runtime sets the line"
        );
        agent.settings.now_line = Some(NowLine::new(move || line.to_string()));
        agent
            .run_turn(
                &session.id,
                "what day is it?",
                &mut |_| {},
                &CancellationToken::new(),
            )
            .await
            .unwrap();
    }
    let requests = server.requests();
    let (first, second) = (&requests[0].body, &requests[1].body);
    assert_eq!(first["messages"][0], second["messages"][0], "system prompt");
    assert_eq!(first["messages"][0]["role"], "system");
    assert_eq!(
        serde_json::to_string(&first["tools"]).unwrap(),
        serde_json::to_string(&second["tools"]).unwrap(),
        "tool schemas"
    );
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tool| tool["function"]["name"].as_str())
        .collect();
    assert!(names.contains(&"schedule_create") && names.contains(&"schedule_cancel"));
    // Memory may recall the first turn after the line: the line follows the words.
    for (body, line) in [
        (first, "[now: 2026-12-05 09:12 Europe/Berlin, Saturday]"),
        (second, "[now: 2027-03-01 17:40 Europe/Berlin, Monday]"),
    ] {
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.starts_with(&format!("what day is it?\n\n{line}")),
            "{user}"
        );
    }
    assert_eq!(server.take_violations(), Vec::<String>::new());
}

#[test]
fn the_tool_descriptions_match_their_snapshot() {
    let home = tempfile::tempdir().unwrap();
    let env = Environment::from_vars(|name| match name {
        "HEARTH_HOME" | "HOME" => Some(home.path().into()),
        _ => None,
    });
    let resolved = hearth_runtime::resolve(&Overrides::default(), env).unwrap();
    let approver = Arc::new(FixedApprover {
        approve: false,
        asked: Mutex::new(Vec::new()),
    });
    let tools = resolved.tools(approver).unwrap();
    let specs: Vec<Value> = ["schedule_create", "schedule_list", "schedule_cancel"]
        .iter()
        .map(|name| serde_json::to_value(tools.get(name).unwrap().spec()).unwrap())
        .collect();
    hearth_testkit::snapshot::assert_matches(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/schedule_tools.json"
        ),
        &format!("{}\n", serde_json::to_string_pretty(&specs).unwrap()),
    );
}
