//! Long-term memory: conversation turns captured from sessions, explicit notes and
//! markdown files, each with provenance and time, in one SQLite file (a workspace's
//! files found only from that workspace); retrieved by a
//! hybrid of FTS5 (BM25) and dense vectors from a local embedding model run
//! in-process with candle; measured by a LoCoMo recall benchmark ([`bench`]).
//!
//! Architecture invariants: a capture returns only once its row and keyword index are
//! durable, and never waits for the embedding model (the ingest worker fills vectors
//! in the background); `forget` removes an item from the table, the keyword index and
//! the vectors, and scrubs it from the file; without a model, memory works on
//! keywords alone; remembered text shown to the model carries its provenance and
//! cannot open or close the `<recalled-memory>` block. The crate never prints and
//! never panics on input.

pub mod bench;
mod embed;
mod encoder;
mod error;
mod files;
mod index;
mod ingest;
mod item;
mod kernels;
mod schema;
mod search;
mod store;
mod text;
mod time;
pub mod tools;
mod weights;

pub use embed::{
    cosine, use_single_threaded_kernels, Embedder, EmbedderSettings, DEFAULT_MODEL, EMBEDDER_ENV,
};
pub use error::MemoryError;
pub use files::{workspace_key, MEMORY_DIR};
pub use item::{CapturedTurn, IndexReport, ItemKind, MemoryItem, Provenance};
pub use search::{MemoryHit, Ranked, SearchOptions, Weights};
pub use store::{EmbedderLoader, Memory};
pub use text::estimate_tokens;
pub use time::{format_rfc3339, parse_timestamp};

/// The command that puts the default embedding model in the cache.
pub const FETCH_MODEL_HINT: &str = "scripts/fetch-models.sh embedder";
