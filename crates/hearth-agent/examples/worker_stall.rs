//! The worker-stall figure (issue 23): how late a 1 ms tick task runs on a 2-worker
//! runtime while agent turns with durable store writes (`synchronous=FULL`: an fsync
//! each) run beside it. A stall of a worker shows up as lateness; the idle figures
//! (the same ticks with nothing else running: the timer's own granularity, about
//! 1 ms) are the floor to compare with. Prints JSON:
//! `cargo run --release -p hearth-agent --example worker_stall -- [SESSIONS] [TURNS]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_agent::{Agent, AgentSettings};
use hearth_models::{build_provider, ModelRef, ProviderKind, ProviderSettings};
use hearth_secrets::Redactor;
use hearth_store::{AsyncStore, Store};
use hearth_testkit::{Script, ScriptedCall, ScriptedServer, Step};
use hearth_tools::{ToolContext, ToolRegistry};
use tokio_util::sync::CancellationToken;

/// The tick the stall is measured against.
const TICK: Duration = Duration::from_millis(1);

fn main() {
    let mut args = std::env::args().skip(1);
    let sessions: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let turns: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(25);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(measure(sessions, turns));
}

async fn measure(sessions: usize, turns: usize) {
    // Each turn: one tool call (list_dir), then an answer: four store writes.
    let steps = (0..sessions * turns)
        .flat_map(|n| {
            [
                Step::tool_calls(
                    "",
                    vec![ScriptedCall::new(
                        format!("call_{n}"),
                        "list_dir",
                        r#"{"path":"."}"#,
                    )],
                ),
                Step::text("done"),
            ]
        })
        .collect();
    let server = ScriptedServer::start(Script::new(steps))
        .await
        .expect("scripted server");
    // On disk where the bench runs (not a tmpfs), so each fsync costs what it does.
    let dir = tempfile::tempdir_in(".").expect("temp dir");
    let store = Arc::new(Store::open(&dir.path().join("state.db")).expect("store"));
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("workspace");

    let idle = ticks_for(Duration::from_millis(300)).await;

    let stop = CancellationToken::new();
    let ticker = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut lateness = Vec::new();
            while !stop.is_cancelled() {
                let asked = Instant::now();
                tokio::time::sleep(TICK).await;
                lateness.push(asked.elapsed().saturating_sub(TICK));
            }
            lateness
        }
    });

    let started = Instant::now();
    let mut running = Vec::new();
    for _ in 0..sessions {
        let session = store
            .create_session("openai:scripted-model", &workspace)
            .expect("session");
        let agent = agent(&server, &store, &workspace);
        running.push(tokio::spawn(async move {
            for turn in 0..turns {
                agent
                    .run_turn(
                        &session.id,
                        &format!("turn {turn}"),
                        &mut |_| {},
                        &CancellationToken::new(),
                    )
                    .await
                    .expect("a turn");
            }
        }));
    }
    for turn in running {
        turn.await.expect("turns finished");
    }
    let wall = started.elapsed();
    stop.cancel();
    let lateness = ticker.await.expect("ticker");
    let (idle_p50, _, idle_max) = percentiles(idle);
    let (p50, p99, max) = percentiles(lateness.clone());
    println!(
        "{}",
        serde_json::json!({
            "sessions": sessions,
            "turns": sessions * turns,
            "wall_ms": (wall.as_secs_f64() * 1000.0).round(),
            "ticks": lateness.len(),
            "lateness_p50_ms": p50,
            "lateness_p99_ms": p99,
            "lateness_max_ms": max,
            "idle_lateness_p50_ms": idle_p50,
            "idle_lateness_max_ms": idle_max,
        })
    );
}

/// The lateness of 1 ms ticks over `period` with nothing else running.
async fn ticks_for(period: Duration) -> Vec<Duration> {
    let started = Instant::now();
    let mut lateness = Vec::new();
    while started.elapsed() < period {
        let asked = Instant::now();
        tokio::time::sleep(TICK).await;
        lateness.push(asked.elapsed().saturating_sub(TICK));
    }
    lateness
}

/// p50, p99 and max of `lateness`, in ms rounded to µs.
fn percentiles(mut lateness: Vec<Duration>) -> (f64, f64, f64) {
    lateness.sort();
    let at = |q: f64| {
        let index = ((lateness.len() as f64 - 1.0) * q).round() as usize;
        let ms = lateness
            .get(index)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        (ms * 1000.0).round() / 1000.0
    };
    (at(0.5), at(0.99), at(1.0))
}

fn agent(server: &ScriptedServer, store: &Arc<Store>, workspace: &std::path::Path) -> Agent {
    let mut settings = ProviderSettings::new(ProviderKind::OpenAi);
    settings.base_url = server.openai_base_url();
    Agent {
        provider: build_provider(settings).expect("provider"),
        model: ModelRef::parse("openai:scripted-model").expect("model id"),
        tools: ToolRegistry::with_builtins(),
        tool_context: ToolContext::new(workspace).expect("tool context"),
        store: AsyncStore::spawn(store.clone()).expect("store thread"),
        system_prompt: "You are a test.".into(),
        settings: AgentSettings::default(),
        redactor: Redactor::new(Vec::new()),
        memory: None,
    }
}
