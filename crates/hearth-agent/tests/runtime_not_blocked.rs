//! Nothing a turn does blocks a runtime worker: turns of other sessions on the same
//! runtime go on while one is stuck in blocking work (a slow memory recall here).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use hearth_agent::{Agent, AgentSettings, MemoryHook};
use hearth_models::{build_provider, ModelRef, ProviderKind, ProviderSettings};
use hearth_protocol::{AgentEvent, Message, TurnEnd};
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, Store};
use hearth_testkit::{Script, ScriptedServer, Step};
use hearth_tools::{ToolContext, ToolRegistry};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio_util::sync::CancellationToken;

/// How long a stuck recall waits, at most, for the other session's turn to finish.
/// Only a cap: the test asserts what happened, never how long it took.
const RECALL_CAP: Duration = Duration::from_secs(2);

/// A recall that blocks its thread (as BERT embedding a query does) until the other
/// session's turn has finished, or [`RECALL_CAP`] has passed; it recalls which.
struct StuckRecall {
    started: UnboundedSender<()>,
    other_turn_finished: Arc<(Mutex<bool>, Condvar)>,
}

impl MemoryHook for StuckRecall {
    fn recall(&self, _user_text: &str) -> Option<String> {
        self.started.send(()).unwrap();
        let (finished, changed) = &*self.other_turn_finished;
        let (finished, _) = changed
            .wait_timeout_while(finished.lock().unwrap(), RECALL_CAP, |done| !*done)
            .unwrap();
        Some(if *finished {
            "[the other turn finished while this recall blocked]".to_string()
        } else {
            "[nothing else ran while this recall blocked]".to_string()
        })
    }

    fn capture(&self, _session_id: &str, _message: &Message) {}
}

fn agent(
    server: &ScriptedServer,
    store: &AsyncStore,
    memory: Option<Arc<dyn MemoryHook>>,
) -> Agent {
    let mut settings = ProviderSettings::new(ProviderKind::OpenAi);
    settings.base_url = server.openai_base_url();
    let workspace = tempfile::tempdir().unwrap().keep();
    Agent {
        provider: build_provider(settings).unwrap(),
        model: ModelRef::parse("openai:scripted-model").unwrap(),
        tools: ToolRegistry::new(),
        tool_context: ToolContext::new(&workspace).unwrap(),
        store: store.clone(),
        system_prompt: "You are a test.".into(),
        settings: AgentSettings::default(),
        redactor: Redactor::new(Vec::new()),
        memory,
    }
}

/// Two sessions stuck in a blocking recall (one per worker of a two-worker runtime)
/// and a third session's turn: the third completes while both are still stuck, so
/// their recalls see it finish. Had the recall run on the workers (the old loop), no
/// worker would be free for the third turn until the recalls gave up.
#[test]
fn a_turn_completes_while_other_sessions_are_stuck_in_blocking_recall() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = ScriptedServer::start(Script::new(vec![
            Step::text("free"),
            Step::text("stuck one"),
            Step::text("stuck two"),
        ]))
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("state.db")).unwrap());
        let async_store = AsyncStore::spawn(store.clone()).unwrap();
        let other_turn_finished = Arc::new((Mutex::new(false), Condvar::new()));
        let (recall_started, mut recalls_started) = unbounded_channel();
        let (finished, mut finish_order) = unbounded_channel();

        let mut stuck_sessions = Vec::new();
        for name in ["stuck one", "stuck two"] {
            let memory: Arc<dyn MemoryHook> = Arc::new(StuckRecall {
                started: recall_started.clone(),
                other_turn_finished: other_turn_finished.clone(),
            });
            let agent = agent(&server, &async_store, Some(memory));
            let session = store
                .create_session("openai:scripted-model", dir.path())
                .unwrap();
            stuck_sessions.push(session.id.clone());
            let finished = finished.clone();
            tokio::spawn(async move {
                let outcome = agent
                    .run_turn(&session.id, name, &mut |_| {}, &CancellationToken::new())
                    .await
                    .unwrap();
                finished.send((name, outcome.end)).unwrap();
            });
        }
        // Both workers' worth of blocking work has begun before the free turn starts.
        recalls_started.recv().await.unwrap();
        recalls_started.recv().await.unwrap();

        let agent = agent(&server, &async_store, None);
        let session = store
            .create_session("openai:scripted-model", dir.path())
            .unwrap();
        let free_turn = {
            let finished = finished.clone();
            let other_turn_finished = other_turn_finished.clone();
            tokio::spawn(async move {
                let mut events = Vec::new();
                let outcome = agent
                    .run_turn(
                        &session.id,
                        "free",
                        &mut |event| events.push(event),
                        &CancellationToken::new(),
                    )
                    .await
                    .unwrap();
                finished.send(("free", outcome.end)).unwrap();
                let (done, changed) = &*other_turn_finished;
                *done.lock().unwrap() = true;
                changed.notify_all();
                (session.id, events)
            })
        };
        let (free_session, events) = free_turn.await.unwrap();
        let mut order = Vec::new();
        for _ in 0..3 {
            order.push(finish_order.recv().await.unwrap());
        }

        assert_eq!(order[0], ("free", TurnEnd::Completed), "{order:?}");
        assert_eq!(order.len(), 3);
        // The loop says the session started once the user's words are durable.
        assert_eq!(
            events.first(),
            Some(&AgentEvent::SessionStarted {
                session_id: free_session.clone(),
                model: "openai:scripted-model".into()
            })
        );
        for id in &stuck_sessions {
            let messages = store.messages(id).unwrap();
            let Message::User { text, .. } = &messages[0] else {
                panic!("the first message of {id} is not the user's: {messages:?}");
            };
            assert!(
                text.ends_with("[the other turn finished while this recall blocked]"),
                "{text}"
            );
        }
        server.shutdown().await;
    });
}
