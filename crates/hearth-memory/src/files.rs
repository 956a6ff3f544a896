//! Markdown files kept in a workspace's `memory/` folder: split into chunks and
//! indexed like notes, with provenance `file` and their workspace, where alone they
//! are found (anything that writes the workspace, the model included, may have
//! written them). A file whose size or modification time changed is indexed again,
//! and a file that is gone takes its chunks with it.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rusqlite::params;

use crate::error::{AtDatabase, MemoryError};
use crate::index::Cache;
use crate::item::{IndexReport, ItemKind, Provenance};
use crate::store::{delete_items, insert_item, lock, scrub, Memory, NewItem};
use crate::text::markdown_chunks;

/// How deep below the memory folder files are looked for.
const MAX_DEPTH: usize = 4;

/// The folder of a workspace whose markdown files are memory.
pub const MEMORY_DIR: &str = "memory";

/// How a workspace is named in the index: its canonical path (as given when it cannot
/// be resolved), so `-C .` and `-C /abs/path` name the same workspace.
pub fn workspace_key(workspace: &Path) -> String {
    std::fs::canonicalize(workspace)
        .unwrap_or_else(|_| workspace.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

struct Found {
    path: PathBuf,
    size: i64,
    /// Nanoseconds since the epoch, so two saves within a second still differ.
    mtime: i64,
}

impl Memory {
    /// Brings the index in step with the `*.md` files under `workspace/memory` (a
    /// missing folder counts as empty). Their chunks are found only from `workspace`.
    pub fn index_workspace_memory(&self, workspace: &Path) -> Result<IndexReport, MemoryError> {
        let key = workspace_key(workspace);
        let dir = Path::new(&key).join(MEMORY_DIR);
        let mut found = Vec::new();
        collect(&dir, 0, &mut found)?;
        let mut report = IndexReport {
            files: found.len(),
            ..IndexReport::default()
        };
        let prefix = format!("{}/", dir.display());
        let path = &self.shared.path;
        let mut conn = lock(&self.shared.conn);
        let tx = conn.transaction().at(path)?;
        let known: Vec<(String, i64, i64)> = {
            let mut statement = tx
                .prepare("SELECT path, size, mtime FROM files WHERE substr(path, 1, ?2) = ?1")
                .at(path)?;
            let rows = statement
                .query_map(params![prefix, prefix.len() as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .at(path)?;
            rows.collect::<Result<_, _>>().at(path)?
        };
        let mut deleted = 0;
        for (file, _, _) in &known {
            if !found
                .iter()
                .any(|f| f.path.to_string_lossy() == file.as_str())
            {
                deleted += drop_file(&tx, path, file)?;
                report.removed += 1;
            }
        }
        for file in &found {
            let name = file.path.to_string_lossy();
            if known
                .iter()
                .any(|(p, size, mtime)| p == &name && *size == file.size && *mtime == file.mtime)
            {
                continue;
            }
            deleted += drop_file(&tx, path, &name)?;
            let markdown =
                std::fs::read_to_string(&file.path).map_err(|source| MemoryError::Read {
                    path: file.path.clone(),
                    source,
                })?;
            for (index, chunk) in markdown_chunks(&markdown).iter().enumerate() {
                let new = NewItem {
                    kind: ItemKind::File,
                    provenance: Provenance::File,
                    session: &name,
                    seq: index as i64 + 1,
                    speaker: "",
                    text: chunk,
                    context: "",
                    tags: "",
                    ts: file.mtime / 1_000_000_000,
                    workspace: &key,
                };
                insert_item(&tx, path, &new)?;
                report.chunks += 1;
            }
            tx.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime) VALUES (?1, ?2, ?3)",
                params![name, file.size, file.mtime],
            )
            .at(path)?;
            report.indexed += 1;
        }
        tx.commit().at(path)?;
        if deleted > 0 {
            scrub(&conn, path)?;
        }
        if report.indexed + report.removed > 0 {
            *lock(&self.shared.cache) = Cache::load(&conn).at(path)?;
            drop(conn);
            self.shared.notify();
        }
        Ok(report)
    }
}

/// Removes a file's chunks and its row; returns how many chunks went.
fn drop_file(tx: &rusqlite::Transaction, path: &Path, file: &str) -> Result<usize, MemoryError> {
    let ids: Vec<i64> = {
        let mut statement = tx
            .prepare("SELECT id FROM items WHERE kind = 'file' AND session = ?1")
            .at(path)?;
        let rows = statement.query_map([file], |row| row.get(0)).at(path)?;
        rows.collect::<Result<_, _>>().at(path)?
    };
    tx.execute("DELETE FROM files WHERE path = ?1", [file])
        .at(path)?;
    delete_items(tx, path, &ids)
}

fn collect(dir: &Path, depth: usize, found: &mut Vec<Found>) -> Result<(), MemoryError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(MemoryError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() && depth < MAX_DEPTH {
            collect(&path, depth + 1, found)?;
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "md") {
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i64);
            found.push(Found {
                path,
                size: meta.len() as i64,
                mtime,
            });
        }
    }
    Ok(())
}
