//! `hearth models list|add|bench`: the GGUF models in the local model cache, adding one,
//! and measuring how fast one runs here.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

#[derive(Debug, Args, Clone)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum ModelsCommand {
    /// List the GGUF models in the model cache ($HEARTH_MODELS, default ~/.cache/hearth/models).
    List {
        /// One JSON array of {id, aliases, path, size_bytes}.
        #[arg(long)]
        json: bool,
    },
    /// Copy a GGUF file into the model cache; it is then `local:<file stem>`.
    Add {
        path: PathBuf,
        /// Symlink the file instead of copying it.
        #[arg(long)]
        link: bool,
    },
    /// Measure a local model: load time, prompt and generation tokens/s, peak memory.
    Bench {
        /// A cached model id (`smollm2`, `local:smollm2`) or a path to a GGUF.
        model: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Decoding threads (default: one per core).
        #[arg(long)]
        threads: Option<i32>,
    },
}

pub async fn models(args: ModelsArgs) -> Result<ExitCode> {
    let env = crate::wiring::environment();
    let model_cache = env.model_cache.clone();
    let dir = || {
        model_cache.clone().context(
            "there is no model cache: neither HEARTH_MODELS nor HOME is set; set HEARTH_MODELS to a folder",
        )
    };
    match args.command {
        ModelsCommand::List { json } => {
            let dir = dir()?;
            let models = hearth_local::list(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&models)?);
            } else if models.is_empty() {
                eprintln!(
                    "no models in {}; fetch the bundled one with `{}` or add one with `hearth models add PATH`",
                    dir.display(),
                    hearth_local::FETCH_COMMAND
                );
            } else {
                for model in models {
                    println!(
                        "local:{:<32} {:>8.1} MB  {}",
                        model.id,
                        model.size_bytes as f64 / 1_000_000.0,
                        model.path.display()
                    );
                }
            }
        }
        ModelsCommand::Add { path, link } => {
            let added = hearth_local::add(&path, &dir()?, link)?;
            println!("added local:{} ({})", added.id, added.path.display());
        }
        ModelsCommand::Bench {
            model,
            json,
            threads,
        } => {
            let name = model.strip_prefix("local:").unwrap_or(&model).to_string();
            let threads = threads
                .or(env.local_threads)
                .unwrap_or_else(hearth_local::default_threads);
            let models_dir = env.model_cache.clone();
            let report = tokio::task::spawn_blocking(move || {
                hearth_local::bench(&name, models_dir.as_deref(), threads)
            })
            .await
            .context("the benchmark thread failed")??;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{}: load {} ms, prompt {:.1} tok/s ({} tokens), generation {:.1} tok/s ({} tokens), peak RSS {} MB, {} threads, llama.cpp CPU features: {}",
                    report.model,
                    report.load_ms,
                    report.prompt_tokens_per_s,
                    report.prompt_tokens,
                    report.generation_tokens_per_s,
                    report.generated_tokens,
                    report.peak_rss_mb.map_or("?".into(), |m| format!("{m:.0}")),
                    report.threads,
                    if report.cpu_features_built.is_empty() { "baseline" } else { &report.cpu_features_built },
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
