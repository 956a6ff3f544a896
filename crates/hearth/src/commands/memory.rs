//! `hearth memory add|search|list|forget|reindex|bench`: long-term memory from the
//! command line, and the LoCoMo recall benchmark.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hearth_memory::bench::BenchOptions;
use hearth_memory::{Embedder, Memory, MemoryHit, Provenance, SearchOptions, Weights};

use crate::home::Home;
use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// Remember a note.
    Add {
        /// The note.
        text: String,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// Search everything remembered (conversations, notes, workspace/memory/*.md).
    Search {
        query: String,
        /// Most results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// List the most recent memories.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Remove a memory from the store and from every index.
    Forget {
        /// The memory's id (as shown by list and search).
        id: i64,
    },
    /// Re-read workspace/memory/*.md and embed everything again (after the model changed).
    Reindex,
    /// Measure recall on a file in LoCoMo's format.
    Bench {
        /// The LoCoMo JSON file.
        #[arg(long, value_name = "PATH")]
        dataset: PathBuf,
        /// Hits counted in tokens_per_query.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Where the memory database lives.
fn memory_db(home: &Home) -> PathBuf {
    home.root.join("memory.db")
}

/// The embedding model, or `None` (said once on stderr, with the fix) when it is not
/// in the cache or does not load: memory then works on keywords alone.
fn load_embedder() -> Option<Arc<Embedder>> {
    match hearth_runtime::memory::embedder_status(&crate::wiring::environment().embedder) {
        Ok(embedder) => Some(embedder),
        Err(why) => {
            eprintln!("note: {why}");
            None
        }
    }
}

pub async fn memory(args: MemoryArgs) -> Result<ExitCode> {
    tokio::task::spawn_blocking(move || run(args.command))
        .await
        .context("the memory command stopped unexpectedly")?
}

fn run(command: MemoryCommand) -> Result<ExitCode> {
    if let MemoryCommand::Bench { dataset, k, json } = command {
        return bench(dataset, k, json);
    }
    let home = Home::locate()?;
    let needs_model = matches!(
        command,
        MemoryCommand::Add { .. } | MemoryCommand::Search { .. } | MemoryCommand::Reindex
    );
    let embedder = if needs_model { load_embedder() } else { None };
    let memory = Memory::open(&memory_db(&home), embedder)?;
    let workspace = home.default_workspace();
    match command {
        MemoryCommand::Add { text, tags } => {
            let id = memory.write_note(&text, &tags, Provenance::User)?;
            memory.wait_idle()?;
            println!("remembered as #{id}");
        }
        MemoryCommand::Search { query, limit, json } => {
            memory.index_workspace_memory(&workspace)?;
            let opts = SearchOptions {
                limit,
                workspace: Some(workspace),
                ..SearchOptions::default()
            };
            let hits = memory.search(&query, &opts)?;
            print_hits(&hits, json)?;
        }
        MemoryCommand::List { limit, json } => {
            let items = memory.list(limit)?;
            if json {
                println!(
                    "{}",
                    json_for_terminal(&serde_json::to_string_pretty(&items)?)
                );
            } else if items.is_empty() {
                eprintln!("nothing remembered yet; add a note with `hearth memory add \"...\"`");
            } else {
                for item in items {
                    println!(
                        "#{:<6} {}  {:<4}  {}",
                        item.id,
                        &item.timestamp[..10.min(item.timestamp.len())],
                        item.kind.as_str(),
                        one_line(&item.text)
                    );
                }
            }
        }
        MemoryCommand::Forget { id } => {
            if memory.forget(id)? {
                println!("forgot #{id}");
            } else {
                eprintln!("no memory #{id}; run `hearth memory list` to see the ids");
                return Ok(ExitCode::from(1));
            }
        }
        MemoryCommand::Reindex => {
            let report = memory.index_workspace_memory(&workspace)?;
            let queued = memory.reindex()?;
            memory.wait_idle()?;
            let how = if memory.has_embedder() {
                "re-embedded"
            } else {
                "re-indexed (keywords only)"
            };
            println!(
                "{queued} memories {how}; {} markdown files, {} changed, {} removed",
                report.files, report.indexed, report.removed
            );
        }
        MemoryCommand::Bench { dataset, k, json } => return bench(dataset, k, json),
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` on one line, escaped for the terminal, cut to 100 characters.
fn one_line(text: &str) -> String {
    let flat = escape_for_terminal(&text.replace('\n', " "), Layout::OneLine);
    if flat.chars().count() > 100 {
        format!("{}…", flat.chars().take(99).collect::<String>())
    } else {
        flat
    }
}

fn print_hits(hits: &[MemoryHit], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(hits)?)
        );
    } else if hits.is_empty() {
        eprintln!("no memories match");
    } else {
        for hit in hits {
            let item = &hit.item;
            let who = if item.speaker.is_empty() {
                String::new()
            } else {
                format!("{}: ", escape_for_terminal(&item.speaker, Layout::OneLine))
            };
            println!(
                "#{:<6} {:>5.2}  {}  {who}{}",
                item.id,
                hit.score,
                &item.timestamp[..10.min(item.timestamp.len())],
                one_line(&item.text)
            );
        }
    }
    Ok(())
}

fn bench(dataset: PathBuf, k: usize, json: bool) -> Result<ExitCode> {
    let options = BenchOptions {
        k,
        weights: Weights::default(),
        embedder: load_embedder(),
    };
    let report = hearth_memory::bench::run(&dataset, &options)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
