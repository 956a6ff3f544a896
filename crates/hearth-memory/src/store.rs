//! [`Memory`]: the durable write path (capture, notes, markdown files), lookup,
//! listing, forgetting and re-indexing. Search lives in `search.rs`, embedding in
//! `ingest.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::embed::Embedder;
use crate::error::{AtDatabase, MemoryError};
use crate::index::{Cache, Entry};
use crate::item::{CapturedTurn, ItemKind, MemoryItem, Provenance};
use crate::schema;
use crate::time::{format_rfc3339, mentions_time, now_unix, parse_timestamp};

/// Locks a mutex, taking the data even if a thread panicked while holding it (the
/// data is a connection or a cache, both still usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the ingest worker is told.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    pub stop: bool,
    /// Bumped on every write that leaves items to embed.
    pub generation: u64,
    /// The generation the worker last found nothing left to embed at.
    pub idle_at: Option<u64>,
    pub failure: Option<String>,
}

/// State shared by a [`Memory`] and its ingest worker.
pub(crate) struct Shared {
    pub path: PathBuf,
    pub conn: Mutex<Connection>,
    pub cache: Mutex<Cache>,
    /// Unset until the embedding model is first needed (see [`Memory::open_lazy`]);
    /// then the model, or `None` when there is none and memory uses keywords alone.
    pub embedder: OnceLock<Option<Arc<Embedder>>>,
    pub signal: Mutex<Signal>,
    pub wake: Condvar,
}

impl Shared {
    /// The embedding model if it has been loaded; never loads it.
    pub fn loaded_embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.get().and_then(Option::as_ref)
    }

    /// Tells the worker there is something to embed.
    pub fn notify(&self) {
        let mut signal = lock(&self.signal);
        signal.generation += 1;
        self.wake.notify_all();
    }
}

/// Long-term memory in one SQLite file: captured turns, notes and markdown chunks,
/// indexed for keywords (FTS5) and, with an [`Embedder`], for meaning (vectors
/// filled in by a background worker, off the caller's path).
pub struct Memory {
    pub(crate) shared: Arc<Shared>,
    /// Loads the embedding model the first time vectors are needed (lazy opening).
    loader: Option<EmbedderLoader>,
    /// Held while the model loads, so it loads once.
    loading: Mutex<()>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Loads the embedding model on demand: `None` means there is none (keywords only).
pub type EmbedderLoader = Box<dyn Fn() -> Option<Arc<Embedder>> + Send + Sync>;

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("path", &self.shared.path)
            .field("embedder", &self.shared.embedder)
            .finish()
    }
}

const META_EMBEDDER: &str = "embedder";

impl Memory {
    /// Opens (creating if needed) the memory database at `db_path`. With an embedder,
    /// starts the ingest worker; vectors made by another model are dropped and
    /// rebuilt. Without one, memory works on keywords alone.
    pub fn open(db_path: &Path, embedder: Option<Arc<Embedder>>) -> Result<Memory, MemoryError> {
        let memory = Self::open_with(db_path, None)?;
        memory.install_embedder(embedder)?;
        Ok(memory)
    }

    /// Opens the memory database like [`Memory::open`], but calls `loader` for the
    /// embedding model only when vectors are first needed: a search over a memory that
    /// holds something, [`Memory::wait_idle`] or [`Memory::has_embedder`]. Captures
    /// made before then are embedded once it loads (here or in a later process), so a
    /// process whose memory is empty never pays for the model.
    pub fn open_lazy(db_path: &Path, loader: EmbedderLoader) -> Result<Memory, MemoryError> {
        Self::open_with(db_path, Some(loader))
    }

    fn open_with(db_path: &Path, loader: Option<EmbedderLoader>) -> Result<Memory, MemoryError> {
        if let Some(parent) = db_path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| MemoryError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let path = db_path.to_path_buf();
        let mut conn = Connection::open(&path).at(&path)?;
        schema::configure(&conn, &path)?;
        schema::migrate(&mut conn, &path)?;
        conn.pragma_update(None, "secure_delete", true).at(&path)?;
        let cache = Cache::load(&conn).at(&path)?;
        let shared = Arc::new(Shared {
            path,
            conn: Mutex::new(conn),
            cache: Mutex::new(cache),
            embedder: OnceLock::new(),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        });
        Ok(Memory {
            shared,
            loader,
            loading: Mutex::new(()),
            worker: Mutex::new(None),
        })
    }

    /// Sets the embedding model once: drops vectors another model made and starts the
    /// ingest worker. Does nothing if a model (or its absence) was already set.
    fn install_embedder(&self, embedder: Option<Arc<Embedder>>) -> Result<(), MemoryError> {
        if let Some(embedder) = &embedder {
            let path = &self.shared.path;
            let conn = lock(&self.shared.conn);
            if drop_stale_vectors(&conn, path, embedder.id())? {
                *lock(&self.shared.cache) = Cache::load(&conn).at(path)?;
            }
        }
        let has_model = embedder.is_some();
        if self.shared.embedder.set(embedder).is_ok() && has_model {
            *lock(&self.worker) = Some(crate::ingest::spawn(Arc::clone(&self.shared))?);
        }
        Ok(())
    }

    /// The embedding model, loading it first if memory was opened lazily and this is
    /// the first time it is needed. A model that fails to install is logged and
    /// memory goes on with keywords alone.
    pub(crate) fn embedder(&self) -> Option<&Arc<Embedder>> {
        if self.shared.embedder.get().is_none() {
            // One loader at a time: a second caller waits here, then finds it set.
            let _loading = lock(&self.loading);
            if self.shared.embedder.get().is_none() {
                let embedder = self.loader.as_ref().and_then(|load| load());
                if let Err(error) = self.install_embedder(embedder) {
                    tracing::warn!("memory uses keywords only: {error}");
                    let _ = self.shared.embedder.set(None);
                }
            }
        }
        self.shared.loaded_embedder()
    }

    /// Whether vectors are used (an embedding model was given).
    /// Loads the model first if memory was opened lazily.
    pub fn has_embedder(&self) -> bool {
        self.embedder().is_some()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Stores one conversation turn. Returns once the row and its keyword index are
    /// committed: they survive a crash of the process (`kill -9`), and a power loss
    /// at worst drops the last captures (committed with `synchronous=NORMAL`: no fsync
    /// of their own; the next note, forget or vector write fsyncs them). The turn's
    /// transcript in `state.db` is fsynced by the store, so a capture is never the
    /// only copy of what was said, and a turn does not wait on two more fsyncs. Its
    /// vectors follow from the ingest worker.
    pub fn capture(&self, turn: CapturedTurn) -> Result<i64, MemoryError> {
        if turn.text.trim().is_empty() {
            return Err(MemoryError::EmptyText);
        }
        let ts = match turn.timestamp.as_deref() {
            Some(text) => parse_timestamp(text).ok_or_else(|| MemoryError::Timestamp {
                text: text.to_string(),
            })?,
            None => now_unix(),
        };
        let path = &self.shared.path;
        let mut conn = lock(&self.shared.conn);
        conn.pragma_update(None, "synchronous", "NORMAL").at(path)?;
        let stored = Self::insert_turn(&mut conn, path, &turn, ts);
        // Every other write keeps fsyncing on commit, also after a failed capture.
        conn.pragma_update(None, "synchronous", "FULL").at(path)?;
        let (id, entry) = stored?;
        // Into the cache before the connection is released, so the worker never
        // embeds an item search does not know yet.
        lock(&self.shared.cache).push(entry);
        drop(conn);
        self.shared.notify();
        Ok(id)
    }

    /// The turn's row and keyword index in one transaction; its id and cache entry.
    fn insert_turn(
        conn: &mut Connection,
        path: &Path,
        turn: &CapturedTurn,
        ts: i64,
    ) -> Result<(i64, Entry), MemoryError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let previous: Option<(i64, String, String)> = tx
            .query_row(
                "SELECT seq, speaker, text FROM items WHERE kind = 'turn' AND session = ?1
                 ORDER BY seq DESC LIMIT 1",
                [&turn.session_id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .at(path)?;
        let (seq, context) = match previous {
            Some((seq, speaker, text)) => (seq + 1, speaker_line(&speaker, &text)),
            None => (1, String::new()),
        };
        let new = NewItem {
            kind: ItemKind::Turn,
            provenance: turn.provenance,
            session: &turn.session_id,
            seq,
            speaker: &turn.speaker,
            text: &turn.text,
            context: &context,
            tags: "",
            ts,
            workspace: "",
        };
        let id = insert_item(&tx, path, &new)?;
        tx.commit().at(path)?;
        Ok((id, new.entry(id)))
    }

    /// Stores an explicit note; durable on return.
    pub fn write_note(
        &self,
        text: &str,
        tags: &[String],
        provenance: Provenance,
    ) -> Result<i64, MemoryError> {
        if text.trim().is_empty() {
            return Err(MemoryError::EmptyText);
        }
        let tags: Vec<&str> = tags
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .collect();
        let tags = tags.join(",");
        let new = NewItem {
            kind: ItemKind::Note,
            provenance,
            session: "",
            seq: 0,
            speaker: "",
            text: text.trim(),
            context: &tags,
            tags: &tags,
            ts: now_unix(),
            workspace: "",
        };
        let path = &self.shared.path;
        let mut conn = lock(&self.shared.conn);
        let tx = conn.transaction().at(path)?;
        let id = insert_item(&tx, path, &new)?;
        tx.commit().at(path)?;
        // Into the cache before the connection is released, so the worker never
        // embeds an item search does not know yet.
        lock(&self.shared.cache).push(new.entry(id));
        drop(conn);
        self.shared.notify();
        Ok(id)
    }

    /// One item by id.
    pub fn get(&self, id: i64) -> Result<Option<MemoryItem>, MemoryError> {
        let conn = lock(&self.shared.conn);
        read_items(&conn, &self.shared.path, "WHERE id = ?1", params![id])
            .map(|mut items| items.pop())
    }

    /// One item by id as seen from `workspace`: `None` also for a file chunk of
    /// another workspace.
    pub fn get_from(&self, id: i64, workspace: &Path) -> Result<Option<MemoryItem>, MemoryError> {
        let key = crate::files::workspace_key(workspace);
        Ok(self.get(id)?.filter(|item| item.visible_from(Some(&key))))
    }

    /// The `limit` most recently stored items, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<MemoryItem>, MemoryError> {
        let conn = lock(&self.shared.conn);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        read_items(
            &conn,
            &self.shared.path,
            "ORDER BY id DESC LIMIT ?1",
            params![limit],
        )
    }

    /// How many items are stored.
    pub fn count(&self) -> Result<usize, MemoryError> {
        let conn = lock(&self.shared.conn);
        conn.query_row("SELECT count(*) FROM items", [], |row| row.get::<_, i64>(0))
            .at(&self.shared.path)
            .map(|n| n as usize)
    }

    /// Removes an item from the table, the keyword index and the vectors, and scrubs
    /// its text from the file (secure delete, FTS merge, WAL checkpoint).
    /// `false` when there was no such item.
    pub fn forget(&self, id: i64) -> Result<bool, MemoryError> {
        let path = &self.shared.path;
        let mut conn = lock(&self.shared.conn);
        let tx = conn.transaction().at(path)?;
        unlink_from_next_turn(&tx, path, id)?;
        let removed = delete_items(&tx, path, &[id])?;
        tx.commit().at(path)?;
        if removed > 0 {
            scrub(&conn, path)?;
        }
        drop(conn);
        lock(&self.shared.cache).remove(id);
        Ok(removed > 0)
    }

    /// Drops every vector and embeds everything again (after the model changed).
    /// Returns how many items are queued.
    pub fn reindex(&self) -> Result<usize, MemoryError> {
        let path = &self.shared.path;
        let conn = lock(&self.shared.conn);
        conn.execute("DELETE FROM vectors", []).at(path)?;
        let queued = conn.execute("UPDATE items SET embedded = 0", []).at(path)?;
        conn.execute("INSERT INTO items_fts(items_fts) VALUES ('optimize')", [])
            .at(path)?;
        drop(conn);
        lock(&self.shared.cache).clear_vectors();
        self.shared.notify();
        Ok(queued)
    }

    /// Blocks until the ingest worker has embedded everything stored so far (at once
    /// without an embedder). Fails if the worker hit an error.
    pub fn wait_idle(&self) -> Result<(), MemoryError> {
        if self.embedder().is_none() || lock(&self.worker).is_none() {
            return Ok(());
        }
        let mut signal = lock(&self.shared.signal);
        let target = signal.generation;
        loop {
            if let Some(failure) = &signal.failure {
                return Err(MemoryError::Embed {
                    batch: 0,
                    reason: failure.clone(),
                });
            }
            if signal.idle_at.is_some_and(|g| g >= target) || signal.stop {
                return Ok(());
            }
            signal = self
                .shared
                .wake
                .wait(signal)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        lock(&self.shared.signal).stop = true;
        self.shared.wake.notify_all();
        if let Some(worker) = lock(&self.worker).take() {
            let _ = worker.join();
        }
    }
}

/// "speaker: text", or the text alone when there is no speaker.
pub(crate) fn speaker_line(speaker: &str, text: &str) -> String {
    if speaker.is_empty() {
        text.to_string()
    } else {
        format!("{speaker}: {text}")
    }
}

/// A row about to be written.
pub(crate) struct NewItem<'a> {
    pub kind: ItemKind,
    pub provenance: Provenance,
    pub session: &'a str,
    pub seq: i64,
    pub speaker: &'a str,
    pub text: &'a str,
    /// Extra words indexed with the item: the previous turn, or a note's tags.
    pub context: &'a str,
    pub tags: &'a str,
    pub ts: i64,
    /// A file chunk's workspace ([`crate::files::workspace_key`]); empty otherwise.
    pub workspace: &'a str,
}

impl NewItem<'_> {
    pub fn entry(&self, id: i64) -> Entry {
        Entry {
            id,
            kind: self.kind,
            session: self.session.into(),
            speaker: self.speaker.into(),
            ts: self.ts,
            seq: self.seq,
            workspace: self.workspace.into(),
            vec: None,
            dated: mentions_time(self.text),
        }
    }
}

/// Writes the item and its keyword index in the caller's transaction.
pub(crate) fn insert_item(
    tx: &Transaction,
    path: &Path,
    item: &NewItem,
) -> Result<i64, MemoryError> {
    tx.execute(
        "INSERT INTO items (kind, provenance, session, seq, speaker, text, context, tags, ts, created_at, workspace)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            item.kind.as_str(),
            item.provenance.as_str(),
            item.session,
            item.seq,
            item.speaker,
            item.text,
            item.context,
            item.tags,
            item.ts,
            now_unix(),
            item.workspace
        ],
    )
    .at(path)?;
    let id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO items_fts (rowid, speaker, body, context) VALUES (?1, ?2, ?3, ?4)",
        params![id, item.speaker, item.text, item.context],
    )
    .at(path)?;
    Ok(id)
}

/// A turn's text is also the `context` of the next turn of its session (indexed with
/// it): before the turn `id` is forgotten, that next turn's context becomes the turn
/// before `id` instead, in its row and its keyword index.
fn unlink_from_next_turn(tx: &Transaction, path: &Path, id: i64) -> Result<(), MemoryError> {
    let place: Option<(String, i64)> = tx
        .query_row(
            "SELECT session, seq FROM items WHERE id = ?1 AND kind = 'turn'",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .at(path)?;
    let Some((session, seq)) = place else {
        return Ok(());
    };
    let neighbour = |sql: &str| {
        tx.query_row(sql, params![session, seq], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .optional()
        .at(path)
    };
    let Some((next_id, next_speaker, next_text)) = neighbour(
        "SELECT id, speaker, text FROM items WHERE kind = 'turn' AND session = ?1 AND seq > ?2
         ORDER BY seq LIMIT 1",
    )?
    else {
        return Ok(());
    };
    let context = neighbour(
        "SELECT id, speaker, text FROM items WHERE kind = 'turn' AND session = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT 1",
    )?
    .map_or(String::new(), |(_, speaker, text)| {
        speaker_line(&speaker, &text)
    });
    tx.execute(
        "UPDATE items SET context = ?1 WHERE id = ?2",
        params![context, next_id],
    )
    .at(path)?;
    tx.execute("DELETE FROM items_fts WHERE rowid = ?1", [next_id])
        .at(path)?;
    tx.execute(
        "INSERT INTO items_fts (rowid, speaker, body, context) VALUES (?1, ?2, ?3, ?4)",
        params![next_id, next_speaker, next_text, context],
    )
    .at(path)?;
    Ok(())
}

/// Deletes items (and, by cascade, their vectors) and their keyword rows.
pub(crate) fn delete_items(
    tx: &Transaction,
    path: &Path,
    ids: &[i64],
) -> Result<usize, MemoryError> {
    let mut removed = 0;
    for id in ids {
        tx.execute("DELETE FROM items_fts WHERE rowid = ?1", [id])
            .at(path)?;
        removed += tx
            .execute("DELETE FROM items WHERE id = ?1", [id])
            .at(path)?;
    }
    Ok(removed)
}

/// Makes deleted text unrecoverable from the files: FTS5 merges its segments (old
/// ones still hold the words), and the WAL is checkpointed and truncated.
pub(crate) fn scrub(conn: &Connection, path: &Path) -> Result<(), MemoryError> {
    conn.execute("INSERT INTO items_fts(items_fts) VALUES ('optimize')", [])
        .at(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .at(path)?;
    Ok(())
}

/// Items matching an SQL tail (`WHERE …`, `ORDER BY …`).
pub(crate) fn read_items(
    conn: &Connection,
    path: &Path,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<MemoryItem>, MemoryError> {
    let sql = format!(
        "SELECT id, kind, provenance, session, seq, speaker, text, tags, ts, workspace FROM items {tail}"
    );
    let mut statement = conn.prepare_cached(&sql).at(path)?;
    let rows = statement
        .query_map(params, |row| {
            let tags: String = row.get(7)?;
            let ts: i64 = row.get(8)?;
            Ok(MemoryItem {
                id: row.get(0)?,
                kind: ItemKind::parse(&row.get::<_, String>(1)?),
                provenance: Provenance::parse(&row.get::<_, String>(2)?),
                session: row.get(3)?,
                workspace: row.get(9)?,
                seq: row.get(4)?,
                speaker: row.get(5)?,
                text: row.get(6)?,
                tags: tags
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
                timestamp: format_rfc3339(ts),
                unix_time: ts,
            })
        })
        .at(path)?;
    rows.collect::<Result<Vec<_>, _>>().at(path)
}

/// When the stored vectors were made by another model, drops them and queues every
/// item for embedding again. Says whether it did (the model changed).
fn drop_stale_vectors(conn: &Connection, path: &Path, model: &str) -> Result<bool, MemoryError> {
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [META_EMBEDDER],
            |row| row.get(0),
        )
        .optional()
        .at(path)?;
    if stored.as_deref() != Some(model) {
        conn.execute("DELETE FROM vectors", []).at(path)?;
        conn.execute("UPDATE items SET embedded = 0 WHERE embedded != 0", [])
            .at(path)?;
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![META_EMBEDDER, model],
        )
        .at(path)?;
        return Ok(true);
    }
    Ok(false)
}
