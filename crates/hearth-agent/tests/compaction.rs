//! Compaction through the real loop: a scripted model server (OpenAI wire), real SQLite
//! and the real `read_file` tool, with a model whose window is 2,000 tokens
//! (`compact_at` 0.8: compaction before a request estimated past 1,600 tokens).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_agent::{Agent, AgentError, AgentSettings, MemoryHook, COMPACT_PROMPT};
use hearth_models::{build_provider, ModelProfile, ModelRef, ProviderKind, ProviderSettings};
use hearth_protocol::{AgentEvent, Message, TurnEnd};
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, Store};
use hearth_testkit::{RecordedRequest, Script, ScriptedServer, Step};
use hearth_tools::{ReadFile, ToolContext, ToolRegistry};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const WINDOW: u64 = 2_000;

/// What the loop handed to memory after compacting: (compacted messages, summary).
#[derive(Default)]
struct RecordingMemory {
    compacted: Mutex<Vec<(Vec<Message>, String)>>,
}

impl MemoryHook for RecordingMemory {
    fn recall(&self, _user_text: &str) -> Option<String> {
        None
    }
    fn capture(&self, _session_id: &str, _message: &Message) {}
    fn capture_compacted(&self, _session_id: &str, compacted: &[Message], summary: &str) {
        self.compacted
            .lock()
            .unwrap()
            .push((compacted.to_vec(), summary.to_string()));
    }
}

struct Setup {
    server: ScriptedServer,
    dir: tempfile::TempDir,
    store: Arc<Store>,
    session: String,
}

async fn setup(steps: Vec<Step>) -> Setup {
    let server = ScriptedServer::start(Script::new(steps)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ws")).unwrap();
    // Files whose contents only the tool results carry.
    let filler = "lorem ipsum dolor sit amet\n".repeat(100);
    std::fs::write(
        dir.path().join("ws/router.txt"),
        format!("The router's admin password is plum-tulip-42.\n{filler}"),
    )
    .unwrap();
    std::fs::write(dir.path().join("ws/big.txt"), filler.repeat(3)).unwrap();
    let store = Arc::new(Store::open(&dir.path().join("state.db")).unwrap());
    let session = store.create_session("openai:tiny", dir.path()).unwrap().id;
    Setup {
        server,
        dir,
        store,
        session,
    }
}

fn agent(setup: &Setup, memory: Option<Arc<dyn MemoryHook>>, keep_recent_turns: usize) -> Agent {
    let mut provider = ProviderSettings::new(ProviderKind::OpenAi);
    provider.base_url = setup.server.openai_base_url();
    provider.max_retries = 0;
    provider.retry_base_delay = Duration::from_millis(1);
    let mut tools = ToolRegistry::new();
    tools.register(Arc::new(ReadFile));
    let mut settings = AgentSettings {
        stream: false,
        profile: ModelProfile {
            context_window: WINDOW,
            ..ModelProfile::default()
        },
        ..AgentSettings::default()
    };
    settings.compaction.keep_recent_turns = keep_recent_turns;
    Agent {
        provider: build_provider(provider).unwrap(),
        model: ModelRef::parse("openai:tiny").unwrap(),
        tools,
        tool_context: ToolContext::new(setup.dir.path().join("ws")).unwrap(),
        store: AsyncStore::spawn(setup.store.clone()).unwrap(),
        system_prompt: "You are a test.".into(),
        settings,
        redactor: Redactor::new(Vec::new()),
        memory,
    }
}

async fn turn(
    agent: &Agent,
    session: &str,
    text: &str,
) -> (Result<TurnEnd, AgentError>, Vec<AgentEvent>) {
    let mut events = Vec::new();
    let outcome = agent
        .run_turn(
            session,
            text,
            &mut |event| events.push(event),
            &CancellationToken::new(),
        )
        .await;
    (outcome.map(|outcome| outcome.end), events)
}

fn is_summary_call(request: &RecordedRequest) -> bool {
    request.body["messages"][0]["content"].as_str() == Some(COMPACT_PROMPT)
}

/// The stable prefix as sent: the system message and the tool schemas, as bytes.
fn prefix(request: &RecordedRequest) -> String {
    format!("{}{}", request.body["messages"][0], request.body["tools"])
}

fn roles(request: &RecordedRequest) -> Vec<String> {
    request.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| {
            let role = message["role"].as_str().unwrap_or("?");
            match message.get("tool_calls") {
                Some(Value::Array(calls)) if !calls.is_empty() => format!("{role}+calls"),
                _ => role.to_string(),
            }
        })
        .collect()
}

fn text_of(message: &Value) -> &str {
    message["content"].as_str().unwrap_or("")
}

const SUMMARY: &str = "- The user asked about the router; its admin password is plum-tulip-42.";

/// Turn 1 reads a file (a call and its result); turn 2's long message pushes the next
/// request past the threshold, so the older turn is summarised first.
async fn run_two_turns(setup: &Setup, memory: Option<Arc<dyn MemoryHook>>) {
    let agent = agent(setup, memory, 1);
    let (end, _) = turn(&agent, &setup.session, "What is in router.txt?").await;
    assert_eq!(end.unwrap(), TurnEnd::Completed);
    let long = format!(
        "Now something else. {}",
        "Please consider this. ".repeat(200)
    );
    let (end, _) = turn(&agent, &setup.session, &long).await;
    assert_eq!(end.unwrap(), TurnEnd::Completed);
}

fn two_turn_script() -> Vec<Step> {
    vec![
        Step::tool_call("call_1", "read_file", r#"{"path":"router.txt"}"#),
        Step::text("It holds the router's password."),
        Step::text(SUMMARY),
        Step::text("Done with the second turn."),
    ]
}

#[tokio::test]
async fn compaction_triggers_at_the_threshold_and_keeps_the_prefix_bytes() {
    let setup = setup(two_turn_script()).await;
    run_two_turns(&setup, None).await;
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 4);
    // The first turn's requests stay under the threshold: no summary until turn 2.
    assert!(!is_summary_call(&requests[0]) && !is_summary_call(&requests[1]));
    assert!(
        is_summary_call(&requests[2]),
        "the summary call comes before turn 2's"
    );
    let summarised = text_of(&requests[2].body["messages"][1]);
    assert!(summarised.contains("plum-tulip-42"), "{summarised}");
    assert!(requests[2]
        .body
        .get("tools")
        .is_none_or(|tools| tools.as_array().is_none_or(Vec::is_empty)));

    // After: the stable prefix, the summary as one message, the kept turn verbatim.
    let after = &requests[3];
    assert_eq!(roles(after), ["system", "user", "user"]);
    assert!(text_of(&after.body["messages"][1]).contains(SUMMARY));
    assert!(text_of(&after.body["messages"][2]).starts_with("Now something else."));
    assert!(
        !after.body.to_string().contains("lorem ipsum"),
        "the tool result is gone"
    );
    for request in [&requests[1], after] {
        assert_eq!(
            prefix(request),
            prefix(&requests[0]),
            "prefix bytes changed"
        );
    }

    // The transcript is whole; the checkpoint says what it covers (turn 1: 4 messages).
    assert_eq!(setup.store.messages(&setup.session).unwrap().len(), 6);
    let checkpoints = setup.store.checkpoints(&setup.session).unwrap();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].up_to_seq, 4);
    assert_eq!(checkpoints[0].summary, SUMMARY);
    assert!(checkpoints[0].tokens_before > WINDOW * 8 / 10);
    assert!(checkpoints[0].tokens_after < checkpoints[0].tokens_before);
    // Every call is in the ledger, the summary call included.
    assert_eq!(setup.store.calls(None).unwrap().len(), 4);
}

#[tokio::test]
async fn a_compacted_session_resumes_after_a_restart_from_its_checkpoint() {
    let mut steps = two_turn_script();
    steps.push(Step::text("Third answer."));
    let setup = setup(steps).await;
    run_two_turns(&setup, None).await;
    // A restart: a new store on the same file and a new agent.
    let reopened = Setup {
        store: Arc::new(Store::open(&setup.dir.path().join("state.db")).unwrap()),
        ..setup
    };
    let agent = agent(&reopened, None, 1);
    let (end, _) = turn(&agent, &reopened.session, "And a third thing?").await;
    assert_eq!(end.unwrap(), TurnEnd::Completed);
    let requests = reopened.server.requests();
    let resumed = requests.last().unwrap();
    assert_eq!(
        roles(resumed),
        ["system", "user", "user", "assistant", "user"]
    );
    assert!(text_of(&resumed.body["messages"][1]).contains(SUMMARY));
    assert_eq!(text_of(&resumed.body["messages"][4]), "And a third thing?");
    assert_eq!(prefix(resumed), prefix(&requests[0]));
}

#[tokio::test]
async fn a_long_step_is_compacted_without_splitting_a_call_from_its_result() {
    let setup = setup(vec![
        Step::tool_call("call_1", "read_file", r#"{"path":"router.txt"}"#),
        Step::tool_call("call_2", "read_file", r#"{"path":"big.txt"}"#),
        Step::text(SUMMARY),
        Step::text("Read both."),
    ])
    .await;
    let agent = agent(&setup, None, 2);
    let (end, _) = turn(&agent, &setup.session, "Read router.txt, then big.txt.").await;
    assert_eq!(end.unwrap(), TurnEnd::Completed);
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 4);
    assert!(is_summary_call(&requests[2]));
    // One turn only: the cut falls before the latest step, which stays whole.
    let after = &requests[3];
    assert_eq!(roles(after), ["system", "user", "assistant+calls", "tool"]);
    assert_eq!(after.body["messages"][2]["tool_calls"][0]["id"], "call_2");
    assert_eq!(after.body["messages"][3]["tool_call_id"], "call_2");
    assert_eq!(prefix(after), prefix(&requests[0]));
    assert_eq!(
        setup.store.checkpoints(&setup.session).unwrap()[0].up_to_seq,
        3
    );
    // The scripted server checked every request: no orphan call or result.
    assert!(setup.server.violations().is_empty());
}

#[tokio::test]
async fn a_failing_summary_is_retried_then_stops_the_turn_naming_compaction() {
    let setup = setup(vec![
        Step::tool_call("call_1", "read_file", r#"{"path":"big.txt"}"#),
        Step::http_error(500, "summariser down"),
        Step::http_error(500, "summariser down"),
        Step::http_error(500, "summariser down"),
    ])
    .await;
    let agent = agent(&setup, None, 2);
    let (outcome, _) = turn(&agent, &setup.session, "Read big.txt.").await;
    let error = outcome.unwrap_err();
    assert!(matches!(error, AgentError::Compaction(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("compact") && message.contains("failed 3 times"),
        "{message}"
    );
    assert!(message.contains("was not sent"), "{message}");
    // One turn request, three summary attempts, and no oversize request after them.
    let requests = setup.server.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests[1..].iter().all(is_summary_call));
    assert!(setup.store.checkpoints(&setup.session).unwrap().is_empty());
}

#[tokio::test]
async fn the_compacted_messages_are_handed_to_memory_and_a_forced_compaction_works() {
    let mut steps = two_turn_script();
    steps.push(Step::text("- Forced summary."));
    let setup = setup(steps).await;
    let memory = Arc::new(RecordingMemory::default());
    run_two_turns(&setup, Some(memory.clone())).await;
    {
        let handed = memory.compacted.lock().unwrap();
        assert_eq!(handed.len(), 1);
        let (messages, summary) = &handed[0];
        assert_eq!(summary, SUMMARY);
        // The fact only a tool result held is among what memory was handed.
        assert!(messages.iter().any(|message| matches!(
            message,
            Message::Tool(result) if result.content.contains("plum-tulip-42")
        )));
    }
    // `/compact`: with one turn kept, the latest turn's answer step stays.
    let agent = agent(&setup, Some(memory.clone()), 1);
    let checkpoint = agent
        .compact(&setup.session, &CancellationToken::new())
        .await
        .unwrap()
        .expect("something to compact");
    assert_eq!(checkpoint.summary, "- Forced summary.");
    assert_eq!(checkpoint.up_to_seq, 5);
    let forced = setup.server.requests().pop().unwrap();
    assert!(is_summary_call(&forced));
    // The previous summary is part of what the new one summarises.
    assert!(text_of(&forced.body["messages"][1]).contains(SUMMARY));
}
