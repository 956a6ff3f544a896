//! The road not taken, measured: the same GGUF decoded by candle's quantized llama on
//! the CPU, so the choice of llama.cpp for `local:` rests on figures from this machine.
//! Prints one JSON object like `hearth models bench --json` (load, prompt and
//! generation tokens/s, peak RSS). Greedy, token ids only (no tokenizer needed).
//!
//! Usage: cargo run --release -p hearth-local --example candle_decode -- MODEL.gguf [THREADS]

use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

const PROMPT_TOKENS: usize = 512;
const GENERATED_TOKENS: usize = 128;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: candle_decode MODEL.gguf [THREADS]")?;
    if let Some(threads) = args.next() {
        // candle's CPU kernels use rayon's global pool.
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads.parse()?)
            .build_global()?;
    }
    let device = Device::Cpu;
    let started = Instant::now();
    let mut file = std::fs::File::open(&path)?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, &device)?;
    let load_ms = started.elapsed().as_millis();

    // Prompt processing: one batch of 512 tokens (id 1 repeated; speed, not sense).
    let prompt: Vec<u32> = vec![1; PROMPT_TOKENS];
    let started = Instant::now();
    let input = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
    model.forward(&input, 0)?;
    let prompt_per_s = PROMPT_TOKENS as f64 / started.elapsed().as_secs_f64();

    // Generation: a fresh cache (index 0) from one token, greedy, one token a step.
    let mut model = {
        let mut file = std::fs::File::open(&path)?;
        let content = gguf_file::Content::read(&mut file)?;
        ModelWeights::from_gguf(content, &mut file, &device)?
    };
    let mut token = 1u32;
    let started = Instant::now();
    for position in 0..GENERATED_TOKENS {
        let input = Tensor::new(&[token], &device)?.unsqueeze(0)?;
        let logits = model.forward(&input, position)?.squeeze(0)?;
        token = logits.argmax(0)?.to_scalar::<u32>()?;
    }
    let generation_per_s = GENERATED_TOKENS as f64 / started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_rss_mb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| (kb / 1024.0).round());
    println!(
        "{{\"engine\": \"candle 0.11\", \"model\": {:?}, \"load_ms\": {load_ms}, \"prompt_tokens_per_s\": {:.1}, \"generation_tokens_per_s\": {:.1}, \"peak_rss_mb\": {}}}",
        path,
        prompt_per_s,
        generation_per_s,
        peak_rss_mb.map_or("null".into(), |m| m.to_string())
    );
    Ok(())
}
