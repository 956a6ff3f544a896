//! Development aid: embeds LoCoMo-sized sentences in batches and prints sentences/s
//! and the process's resident memory; with a LoCoMo file, also the turns of its first
//! conversation in rounds of 256, as the ingest worker does.
//! `cargo run --release -p hearth-memory --example embed_speed [-- DATASET]`.

use std::time::Instant;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    hearth_memory::use_single_threaded_kernels();
    let before = rss_mb();
    let embedder = hearth_memory::Embedder::load_default(
        &hearth_memory::EmbedderSettings::from_vars(|name| std::env::var_os(name)),
    )?
    .ok_or("model not in the cache")?;
    let loaded = rss_mb();
    let sentences: Vec<String> = (0..256)
        .map(|i| format!("Caroline: I went to the support group yesterday, number {i}, and it was really powerful to hear everyone's stories about acceptance."))
        .collect();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    embedder.embed(&texts[..32])?;
    let started = Instant::now();
    embedder.embed(&texts)?;
    let secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..20 {
        embedder.embed(&["When did Caroline go to the LGBTQ support group?"])?;
    }
    let query_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let mut locomo_turns_per_s = None;
    if let Some(dataset) = std::env::args().nth(1) {
        let conversations = hearth_memory::bench::load(std::path::Path::new(&dataset))?;
        let turns: Vec<String> = conversations
            .first()
            .ok_or("no conversation in the file")?
            .sessions
            .iter()
            .flat_map(|s| s.turns.iter())
            .map(|t| format!("{}: {}", t.speaker, t.text))
            .collect();
        let texts: Vec<&str> = turns.iter().map(String::as_str).collect();
        let started = Instant::now();
        for round in texts.chunks(256) {
            embedder.embed(round)?;
        }
        locomo_turns_per_s = Some(texts.len() as f64 / started.elapsed().as_secs_f64());
    }
    println!(
        "{{\"sentences_per_s\": {:.1}, \"query_ms\": {:.2}, \"rss_mb_before\": {:.1}, \"rss_mb_loaded\": {:.1}, \"rss_mb_after\": {:.1}, \"locomo_turns_per_s\": {}}}",
        texts.len() as f64 / secs,
        query_ms,
        before,
        loaded,
        rss_mb(),
        locomo_turns_per_s.map_or("null".to_string(), |r| format!("{r:.1}"))
    );
    Ok(())
}
