//! Errors of the memory store, the embedder and the benchmark. Each names the file
//! or item, says what went wrong and what to do about it.

use std::path::PathBuf;

/// Everything `hearth-memory` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error(
        "cannot create the directory {} for the memory database: {source}; \
         create it yourself or point HEARTH_HOME at a writable directory",
        .path.display()
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the memory database {} failed: {source}; if it is corrupt, move it aside \
         (add `.broken` to its name) and hearth starts a fresh one, then run `hearth memory reindex`",
        .path.display()
    )]
    Database {
        path: PathBuf,
        source: rusqlite::Error,
    },

    #[error(
        "the memory database {} has schema version {found}, newer than this hearth \
         understands (up to {supported}); upgrade hearth",
        .path.display()
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error(
        "the embedding model in {} cannot be loaded: {reason}; run \
         `scripts/fetch-models.sh embedder` to fetch all-MiniLM-L6-v2, or set \
         HEARTH_EMBEDDER to a folder holding a BERT-family model (config.json, tokenizer.json, model.safetensors)",
        .dir.display()
    )]
    ModelLoad { dir: PathBuf, reason: String },

    #[error("the embedding model failed on a batch of {batch} texts: {reason}")]
    Embed { batch: usize, reason: String },

    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(
        "the benchmark file {} is not in LoCoMo's format: {reason}; see \
         shared/bench/memory/README.md for the expected shape",
        .path.display()
    )]
    Dataset { path: PathBuf, reason: String },

    #[error(
        "cannot read the time '{text}': use RFC 3339 (2023-05-08T13:56:00Z) or \
         LoCoMo's form (1:56 pm on 8 May, 2023)"
    )]
    Timestamp { text: String },

    #[error("memory text is empty; give the note some text")]
    EmptyText,

    #[error("the ingest worker stopped unexpectedly; reopen the memory store")]
    WorkerGone,
}

/// Attaches the database path to a `rusqlite` result.
pub(crate) trait AtDatabase<T> {
    fn at(self, path: &std::path::Path) -> Result<T, MemoryError>;
}

impl<T> AtDatabase<T> for Result<T, rusqlite::Error> {
    fn at(self, path: &std::path::Path) -> Result<T, MemoryError> {
        self.map_err(|source| MemoryError::Database {
            path: path.to_path_buf(),
            source,
        })
    }
}
