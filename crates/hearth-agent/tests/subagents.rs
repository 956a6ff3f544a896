//! Sub-agents through the real loop against the scripted model server (OpenAI wire)
//! and real SQLite: a child's context is fresh, children run at once and end with the
//! parent's cancel, and a child never gets a tool its parent lacks.

use std::sync::Arc;
use std::time::Duration;

use hearth_agent::{Agent, AgentSettings, ChildTemplate, SpawnAgent, SubAgentSettings};
use hearth_models::{build_provider, ModelRef, ProviderKind, ProviderSettings};
use hearth_protocol::TurnEnd;
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, Store};
use hearth_testkit::{RecordedRequest, Script, ScriptedCall, ScriptedServer, Step};
use hearth_tools::{ReadFile, ToolContext, ToolRegistry};
use serde_json::json;
use tokio_util::sync::CancellationToken;

struct Family {
    server: ScriptedServer,
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    session: String,
    agent: Agent,
}

async fn family(steps: Vec<Step>) -> Family {
    let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("ws");
    std::fs::create_dir(&workspace).unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.db")).unwrap());
    let session = store.create_session("openai:m", &workspace).unwrap().id;
    let mut provider = ProviderSettings::new(ProviderKind::OpenAi);
    provider.base_url = server.openai_base_url();
    provider.max_retries = 0;
    let provider = build_provider(provider).unwrap();
    let model = ModelRef::parse("openai:m").unwrap();
    let async_store = AsyncStore::spawn(store.clone()).unwrap();
    let settings = AgentSettings {
        stream: false,
        ..AgentSettings::default()
    };
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadFile));
    let template = ChildTemplate {
        provider: provider.clone(),
        model: model.clone(),
        tools: tools.clone(),
        store: async_store.clone(),
        system_prompt: "You are a test.".into(),
        settings: settings.clone(),
        redactor: Redactor::new(Vec::new()),
        models: None,
        workspace: workspace.clone(),
        subagents: SubAgentSettings::default(),
    };
    tools.register(Arc::new(SpawnAgent::new(&session, template).unwrap()));
    let agent = Agent {
        provider,
        model,
        tools,
        tool_context: ToolContext::new(&workspace).unwrap(),
        store: async_store,
        system_prompt: "You are a test.".into(),
        settings,
        redactor: Redactor::new(Vec::new()),
        memory: None,
    };
    Family {
        server,
        _dir: dir,
        store,
        session,
        agent,
    }
}

fn spawn_call(id: &str, args: serde_json::Value) -> ScriptedCall {
    ScriptedCall {
        id: id.into(),
        name: "spawn_agent".into(),
        arguments: args.to_string(),
    }
}

fn tool_names(request: &RecordedRequest) -> Vec<String> {
    request.body["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .map(|tool| tool["function"]["name"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn turn(family: &Family, text: &str, cancel: &CancellationToken) -> TurnEnd {
    family
        .agent
        .run_turn(&family.session, text, &mut |_| {}, cancel)
        .await
        .unwrap()
        .end
}

#[tokio::test]
async fn a_child_sees_only_the_system_prompt_and_its_task() {
    let family = family(vec![
        Step::text("Noted, the word is banana."),
        Step::tool_calls(
            "",
            vec![spawn_call("s1", json!({"task": "Count to three."}))],
        ),
        Step::text("one, two, three"),
        Step::text("The child counted."),
    ])
    .await;
    let cancel = CancellationToken::new();
    assert_eq!(
        turn(&family, "My secret word is banana.", &cancel).await,
        TurnEnd::Completed
    );
    assert_eq!(
        turn(&family, "Ask a helper to count.", &cancel).await,
        TurnEnd::Completed
    );
    let requests = family.server.requests();
    let child = &requests[2];
    assert_eq!(
        child.body["messages"],
        json!([
            {"role": "system", "content": "You are a test."},
            {"role": "user", "content": "Count to three."}
        ])
    );
    assert!(!child.body.to_string().contains("banana"));
    // The child has the parent's tools but, at depth 1, cannot spawn.
    assert_eq!(tool_names(child), ["read_file"]);
    assert_eq!(tool_names(&requests[1]), ["read_file", "spawn_agent"]);
    // Its answer is the parent's tool result; its session is linked to the parent's.
    let result = &requests[3].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .contains("one, two, three"),
        "{result}"
    );
    let children = family.store.child_sessions(&family.session).unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(family.store.messages(&children[0].id).unwrap().len(), 2);
}

#[tokio::test]
async fn children_run_concurrently_and_are_cancelled_with_the_parent() {
    let family = family(vec![
        Step::tool_calls(
            "",
            vec![
                spawn_call("s1", json!({"task": "Task one."})),
                spawn_call("s2", json!({"task": "Task two."})),
            ],
        ),
        Step::hang(),
        Step::hang(),
    ])
    .await;
    let family = Arc::new(family);
    let cancel = CancellationToken::new();
    let running = {
        let (family, cancel) = (family.clone(), cancel.clone());
        tokio::spawn(async move { turn(&family, "Do both.", &cancel).await })
    };
    // Both children's requests are open at the same time (each hangs until cancelled):
    // had they run one after the other, the second would never have been sent.
    tokio::time::timeout(Duration::from_secs(10), async {
        while family.server.requests().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("both children's requests arrive");
    cancel.cancel();
    let end = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the parent ends once cancelled")
        .unwrap();
    assert_eq!(end, TurnEnd::Cancelled);
    let children = family.store.child_sessions(&family.session).unwrap();
    assert_eq!(children.len(), 2);
    // Every spawn call is answered in the parent's transcript.
    let parent = family.store.messages(&family.session).unwrap();
    assert_eq!(parent.len(), 4, "{parent:?}");
}

#[tokio::test]
async fn a_child_cannot_get_a_tool_its_parent_lacks() {
    let family = family(vec![
        Step::tool_calls(
            "",
            vec![spawn_call(
                "s1",
                json!({"task": "Run ls.", "tools": ["read_file", "exec"]}),
            )],
        ),
        Step::text("The helper could not get exec."),
    ])
    .await;
    let end = turn(&family, "Have a helper run ls.", &CancellationToken::new()).await;
    assert_eq!(end, TurnEnd::Completed);
    let requests = family.server.requests();
    assert_eq!(requests.len(), 2, "no child request was made");
    let result = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let content = result["content"].as_str().unwrap();
    assert!(content.contains("'exec' is not one of them"), "{content}");
    assert!(family
        .store
        .child_sessions(&family.session)
        .unwrap()
        .is_empty());
}
