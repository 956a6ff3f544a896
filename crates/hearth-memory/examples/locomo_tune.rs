//! Development aid for the retrieval method: ingests a LoCoMo file once, then scores
//! several weight settings (JSON objects, one per argument, fields as in `Weights`)
//! without re-embedding. `cargo run --release -p hearth-memory --example locomo_tune
//! -- DATASET '{"bm25":0.5,"dense":0.5}' ...` prints one JSON line per setting.

use std::path::Path;
use std::sync::Arc;

use std::collections::HashMap;

use hearth_memory::bench::{evaluate, ingest, load, mean, Ingested, QuestionScore};
use hearth_memory::{Embedder, EmbedderSettings, Memory, Weights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    hearth_memory::use_single_threaded_kernels();
    let mut args = std::env::args().skip(1);
    let dataset = args
        .next()
        .ok_or("usage: locomo_tune DATASET [WEIGHTS_JSON...]")?;
    let settings: Vec<String> = args.collect();
    if settings.first().map(String::as_str) == Some("report") {
        // Exactly what `hearth memory bench --json` prints, with the default weights.
        let options = hearth_memory::bench::BenchOptions {
            k: 10,
            weights: Weights::default(),
            embedder: Embedder::load_default(&EmbedderSettings::from_vars(|name| {
                std::env::var_os(name)
            }))?
            .map(Arc::new),
        };
        let report = hearth_memory::bench::run(Path::new(&dataset), &options)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let embedder = if std::env::var_os("NO_EMBEDDER").is_some() {
        None
    } else {
        Embedder::load_default(&EmbedderSettings::from_vars(|name| std::env::var_os(name)))?
            .map(Arc::new)
    };
    let conversations = load(Path::new(&dataset))?;
    // TUNE_DIR keeps the databases between runs: ids are 1.. in capture order.
    let work = tempfile::tempdir()?;
    let dir = std::env::var_os("TUNE_DIR").map_or_else(|| work.path().to_path_buf(), Into::into);
    let mut ingested = Vec::new();
    let (mut turns, mut seconds) = (0, 0.0);
    for (i, c) in conversations.iter().enumerate() {
        let db = dir.join(format!("{i}.db"));
        if db.exists() {
            let memory = Memory::open(&db, embedder.clone())?;
            memory.wait_idle()?;
            let (mut ids, mut sessions) = (HashMap::new(), HashMap::new());
            let mut next = 1;
            for s in &c.sessions {
                for t in &s.turns {
                    ids.insert(t.dia_id.clone(), next);
                    sessions.insert(next, s.number);
                    next += 1;
                }
            }
            ingested.push(Ingested {
                memory,
                ids,
                sessions,
                seconds: 0.0,
                turns: c.turn_count(),
            });
            continue;
        }
        let done = ingest(c, &db, embedder.clone())?;
        turns += done.turns;
        seconds += done.seconds;
        ingested.push(done);
    }
    eprintln!(
        "ingested {turns} turns in {seconds:.1}s ({:.0}/s)",
        turns as f64 / seconds
    );
    let settings = if settings.is_empty() {
        vec!["{}".to_string()]
    } else {
        settings
    };
    for setting in settings {
        let weights: Weights = serde_json::from_str(&setting)?;
        if std::env::var_os("DIAG").is_some() {
            diagnose(&conversations, &ingested, &weights)?;
        }
        let mut scores: Vec<QuestionScore> = Vec::new();
        let mut per_conv = Vec::new();
        for (c, done) in conversations.iter().zip(&ingested) {
            let e = evaluate(done, c, &weights, 10)?;
            let s: Vec<QuestionScore> = e
                .scores
                .into_iter()
                .filter(|q| (1..=4).contains(&q.category))
                .collect();
            per_conv.push(format!("{:.3}", mean(&s).turn.frac_recall_at_10));
            if std::env::var_os("PER_QUESTION").is_some() {
                // One line per question, in file order, for comparing two settings.
                let asked = c.questions.iter().filter(|q| {
                    (1..=4).contains(&q.category)
                        && q.evidence.iter().any(|e| done.ids.contains_key(e))
                });
                for (q, text) in s.iter().zip(asked) {
                    eprintln!(
                        "q{} c{} mrr {:.3} f10 {:.3} s5 {} | {}",
                        per_conv.len() - 1,
                        q.category,
                        q.turn.mrr,
                        q.turn.frac_recall_at_10,
                        q.session.all_at_5,
                        text.question
                    );
                }
            }
            scores.extend(s);
        }
        let all = mean(&scores);
        let cats: Vec<String> = (1..=4)
            .map(|k| {
                let g = mean(
                    &scores
                        .iter()
                        .filter(|q| q.category == k)
                        .copied()
                        .collect::<Vec<_>>(),
                );
                format!(
                    "c{k} {:.3}/{:.3}/{:.3}",
                    g.turn.frac_recall_at_10, g.turn.mrr, g.session.all_at_5
                )
            })
            .collect();
        println!(
            "f@10 {:.3} mrr {:.3} s@5 {:.3} any@5 {:.3} | {} | conv f@10 {} | {setting}",
            all.turn.frac_recall_at_10,
            all.turn.mrr,
            all.session.all_at_5,
            all.turn.any_at_5,
            cats.join(" "),
            per_conv.join(" ")
        );
    }
    Ok(())
}

/// With `DIAG` set: for each question whose gold sessions are not all in the top 5
/// sessions, prints its category, the 1-based rank of each gold session (0: not in
/// the ranking) and the question, to stderr.
fn diagnose(
    conversations: &[hearth_memory::bench::Conversation],
    ingested: &[Ingested],
    weights: &Weights,
) -> Result<(), Box<dyn std::error::Error>> {
    let opts = hearth_memory::SearchOptions {
        limit: hearth_memory::bench::DEPTH,
        max_tokens: None,
        relevant_only: false,
        weights: *weights,
        workspace: None,
    };
    for (c, done) in conversations.iter().zip(ingested) {
        for q in c.questions.iter().filter(|q| (1..=4).contains(&q.category)) {
            let mut gold: Vec<u32> = q
                .evidence
                .iter()
                .filter_map(|e| done.ids.get(e))
                .filter_map(|id| done.sessions.get(id).copied())
                .collect();
            gold.sort_unstable();
            gold.dedup();
            if gold.is_empty() {
                continue;
            }
            let hits = done.memory.search(&q.question, &opts)?;
            let mut order: Vec<u32> = Vec::new();
            for h in &hits {
                let s = done.sessions.get(&h.item.id).copied().unwrap_or(0);
                if !order.contains(&s) {
                    order.push(s);
                }
            }
            let ranks: Vec<usize> = gold
                .iter()
                .map(|g| order.iter().position(|s| s == g).map_or(0, |p| p + 1))
                .collect();
            if ranks.iter().any(|&r| r == 0 || r > 5) {
                eprintln!(
                    "c{} {:?} n={} {}",
                    q.category,
                    ranks,
                    c.sessions.len(),
                    q.question
                );
            }
        }
    }
    Ok(())
}
