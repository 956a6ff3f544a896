//! `hearth models bench`: load time, prompt and generation speed and peak memory of a
//! GGUF, measured the way llama.cpp's `llama-bench` does (a prompt of N tokens decoded
//! in batches, then M tokens generated one at a time) but through Hearth's own path
//! (greedy sampling, token-to-text).

use std::path::Path;
use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use serde::Serialize;

use crate::engine::{self, LoadedModel};
use crate::error::LocalError;
use crate::generate::{self, GenerateParams};

/// The figures `hearth models bench --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub path: String,
    pub load_ms: u64,
    pub prompt_tokens: usize,
    pub prompt_tokens_per_s: f64,
    pub generated_tokens: usize,
    pub generation_tokens_per_s: f64,
    /// Peak resident memory of the whole process (Linux `VmHWM`), if known.
    pub peak_rss_mb: Option<f64>,
    pub threads: i32,
    /// The x86 extensions llama.cpp was built for ("" = baseline).
    pub cpu_features_built: String,
    /// Extensions this CPU has that the build does not use.
    pub cpu_features_unused: Vec<&'static str>,
}

/// Benchmarks the model at `path`: `prompt_tokens` of prompt, `generated_tokens` of
/// generation, on `threads` threads.
pub fn run(
    model_id: &str,
    path: &Path,
    prompt_tokens: usize,
    generated_tokens: usize,
    threads: i32,
) -> Result<BenchReport, LocalError> {
    let started = Instant::now();
    let loaded = engine::load(path)?;
    let load_ms = started.elapsed().as_millis() as u64;
    let prompt_per_s = prompt_speed(loaded, model_id, prompt_tokens, threads)?;
    let generation_per_s = generation_speed(loaded, model_id, generated_tokens, threads)?;
    Ok(BenchReport {
        model: model_id.to_string(),
        path: path.display().to_string(),
        load_ms,
        prompt_tokens,
        prompt_tokens_per_s: round(prompt_per_s),
        generated_tokens,
        generation_tokens_per_s: round(generation_per_s),
        peak_rss_mb: peak_rss_mb(),
        threads,
        cpu_features_built: engine::BUILT_CPU_FEATURES.to_string(),
        cpu_features_unused: engine::unused_cpu_features(),
    })
}

fn params<'a>(model_id: &'a str, max_tokens: usize, threads: i32) -> GenerateParams<'a> {
    GenerateParams {
        model_id,
        max_tokens,
        grammar: None,
        stops: &[],
        threads,
        max_call_tokens: None,
        reuse_kv_cache: false,
        prefix_state: None,
    }
}

/// Tokens per second decoding a prompt of `n` tokens (like llama-bench's `pp<n>`).
fn prompt_speed(
    loaded: &LoadedModel,
    model_id: &str,
    n: usize,
    threads: i32,
) -> Result<f64, LocalError> {
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(n);
    let mut tokens = generate::tokenize(loaded, &text);
    tokens.truncate(n.min(loaded.n_ctx_train as usize - 1));
    let params = params(model_id, 1, threads);
    // One warm-up run, then the measured one, each in a fresh context.
    let mut best = 0.0f64;
    for _ in 0..2 {
        let mut ctx = generate::new_context(loaded, tokens.len(), &params)?;
        let started = Instant::now();
        generate::decode_prompt(&mut ctx, &tokens)
            .map_err(|e| LocalError::inference(model_id, "decoding the prompt", e))?;
        best = tokens.len() as f64 / started.elapsed().as_secs_f64();
    }
    Ok(best)
}

/// Tokens per second generating `n` tokens greedily from a one-token prompt (like
/// llama-bench's `tg<n>`), sampling and detokenizing each as real use does.
fn generation_speed(
    loaded: &LoadedModel,
    model_id: &str,
    n: usize,
    threads: i32,
) -> Result<f64, LocalError> {
    let vocab = loaded.model.vocab();
    let params = params(model_id, n, threads);
    let mut ctx = generate::new_context(loaded, n + 1, &params)?;
    let fail = |e: String| LocalError::inference(model_id, "generating", e);
    let mut index = generate::decode_prompt(&mut ctx, &[vocab.bos()]).map_err(fail)?;
    let mut batch = LlamaBatch::new(1, 1);
    let started = Instant::now();
    for position in 1..=n {
        let token = generate::pick(&ctx, index, None, &[], &vocab);
        let _piece = vocab.token_to_piece(token, false, None);
        batch.clear();
        batch
            .add(token, position as i32, &[0], true)
            .map_err(|e| fail(e.to_string()))?;
        ctx.decode(&mut batch).map_err(|e| fail(e.to_string()))?;
        index = 0;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The process's peak resident set size in MB, from `/proc/self/status` (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round(kb / 1024.0))
}
