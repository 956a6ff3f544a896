//! Agents of one runtime share what comes out the same for each (the gateway builds one
//! per session): the provider, with its connections, until its settings change, so a
//! rotated `secret:` API key is sent by the next agent; and the redactor, until the
//! secret store changes, so a secret stored while the gateway runs is redacted by the
//! next agent. Turns run against the scripted model server over a real socket.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use hearth_agent::Agent;
use hearth_models::ModelRef;
use hearth_runtime::{Environment, Overrides, Resolved};
use hearth_store::Store;
use hearth_testkit::{Script, ScriptedServer, Step};
use hearth_tools::{ApprovalDecision, ApprovalRequest, Approver};
use tokio_util::sync::CancellationToken;

struct Deny;

#[async_trait::async_trait]
impl Approver for Deny {
    async fn decide(&self, _request: &ApprovalRequest) -> ApprovalDecision {
        ApprovalDecision::Deny {
            reason: "test".into(),
        }
    }
}

/// A home whose OpenAI API key is the secret `OPENAI`, the provider at `server`.
fn resolve(home: &Path, server: &ScriptedServer) -> Resolved {
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        "[providers.openai]\napi_key = \"secret:OPENAI\"\n",
    )
    .unwrap();
    let vars: Vec<(&str, OsString)> = vec![
        ("HEARTH_HOME", home.into()),
        ("HOME", home.into()),
        ("OPENAI_BASE_URL", server.openai_base_url().into()),
    ];
    let env = Environment::from_vars(move |name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    });
    hearth_runtime::resolve(&Overrides::default(), env).unwrap()
}

/// A new session and its agent, as the gateway makes them.
fn agent(resolved: &Resolved, store: &Arc<Store>, model: &ModelRef) -> (Agent, String) {
    let session = store
        .create_session(&model.to_string(), &resolved.workspace)
        .unwrap();
    let agent = resolved
        .agent(model.clone(), store.clone(), &session.id, Arc::new(Deny))
        .unwrap();
    (agent, session.id)
}

async fn turn(agent: &Agent, session_id: &str) {
    agent
        .run_turn(session_id, "hi", &mut |_| {}, &CancellationToken::new())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_share_a_provider_until_its_secret_api_key_changes() {
    let home = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(Script::new(vec![
        Step::text("one"),
        Step::text("two"),
        Step::text("three"),
    ]))
    .await
    .unwrap();
    let resolved = resolve(home.path(), &server);
    resolved
        .secrets()
        .set("OPENAI", "sk-first-key-0001")
        .unwrap();
    let store = resolved.open_store().unwrap();
    let model = ModelRef::parse("openai:scripted").unwrap();

    let (first, first_session) = agent(&resolved, &store, &model);
    let (second, second_session) = agent(&resolved, &store, &model);
    assert!(Arc::ptr_eq(&first.provider, &second.provider));
    turn(&first, &first_session).await;
    turn(&second, &second_session).await;

    resolved
        .secrets()
        .set("OPENAI", "sk-second-key-0002")
        .unwrap();
    let (third, third_session) = agent(&resolved, &store, &model);
    assert!(!Arc::ptr_eq(&first.provider, &third.provider));
    turn(&third, &third_session).await;

    let keys: Vec<Option<String>> = server
        .requests()
        .iter()
        .map(|request| request.header("authorization").map(str::to_string))
        .collect();
    let bearer = |key: &str| Some(format!("Bearer {key}"));
    assert_eq!(
        keys,
        [
            bearer("sk-first-key-0001"),
            bearer("sk-first-key-0001"),
            bearer("sk-second-key-0002")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_stored_after_an_agent_was_built_is_redacted_by_the_next() {
    let home = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(Script::new(vec![])).await.unwrap();
    let resolved = resolve(home.path(), &server);
    resolved
        .secrets()
        .set("OPENAI", "sk-first-key-0001")
        .unwrap();
    let store = resolved.open_store().unwrap();
    let model = ModelRef::parse("openai:scripted").unwrap();
    let (before, _) = agent(&resolved, &store, &model);
    resolved
        .secrets()
        .set("ROUTER", "plum-tulip-42-violet")
        .unwrap();
    let (after, _) = agent(&resolved, &store, &model);
    let text = "the password is plum-tulip-42-violet";
    assert_eq!(
        before.redactor.redact(text),
        text,
        "built before it was stored"
    );
    assert_eq!(
        after.redactor.redact(text),
        "the password is [secret:ROUTER]"
    );
    assert_eq!(
        after.redactor.redact("sk-first-key-0001"),
        "[secret:OPENAI]"
    );
}
