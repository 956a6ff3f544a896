//! The ingest worker: a background thread that embeds items whose vectors are
//! missing (`embedded = 0`), in batches, so capturing a turn never waits for the
//! model. Killed mid-batch, it loses nothing: the rows are durable and still marked
//! unembedded, so the next worker picks them up.

use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::params;

use crate::embed::to_blob;
use crate::error::{AtDatabase, MemoryError};
use crate::store::{lock, speaker_line, Shared};

/// Items taken per round; the embedder batches inside.
const ROUND: usize = 256;

/// One item to embed: "speaker: text".
struct Pending {
    id: i64,
    text: String,
}

pub(crate) fn spawn(shared: Arc<Shared>) -> Result<JoinHandle<()>, MemoryError> {
    std::thread::Builder::new()
        .name("hearth-memory-ingest".into())
        .spawn(move || run(&shared))
        .map_err(|e| MemoryError::Embed {
            batch: 0,
            reason: format!("cannot start the ingest thread: {e}"),
        })
}

fn run(shared: &Shared) {
    loop {
        let generation = {
            let signal = lock(&shared.signal);
            if signal.stop {
                return;
            }
            signal.generation
        };
        match embed_round(shared) {
            Ok(0) => {
                let mut signal = lock(&shared.signal);
                signal.idle_at = Some(generation);
                shared.wake.notify_all();
                while !signal.stop && signal.generation == generation {
                    signal = shared
                        .wake
                        .wait(signal)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
            Ok(_) => {}
            Err(error) => {
                let mut signal = lock(&shared.signal);
                tracing::warn!("memory ingest stopped: {error}");
                signal.failure = Some(error.to_string());
                signal.stop = true;
                shared.wake.notify_all();
                return;
            }
        }
    }
}

/// Embeds up to [`ROUND`] pending items; returns how many were pending.
fn embed_round(shared: &Shared) -> Result<usize, MemoryError> {
    let Some(embedder) = shared.loaded_embedder() else {
        return Ok(0);
    };
    let pending = take_pending(shared)?;
    if pending.is_empty() {
        return Ok(0);
    }
    let texts: Vec<&str> = pending.iter().map(|p| p.text.as_str()).collect();
    let vectors = embedder.embed(&texts)?;
    let path = &shared.path;
    let mut stored = Vec::new();
    {
        let mut conn = lock(&shared.conn);
        let tx = conn.transaction().at(path)?;
        for (item, vector) in pending.iter().zip(vectors) {
            // Forgotten while we embedded: nothing to store.
            if tx
                .execute("UPDATE items SET embedded = 1 WHERE id = ?1", [item.id])
                .at(path)?
                == 0
            {
                continue;
            }
            tx.execute(
                "INSERT OR REPLACE INTO vectors (item_id, view, vec) VALUES (?1, 0, ?2)",
                params![item.id, to_blob(&vector)],
            )
            .at(path)?;
            stored.push((item.id, vector));
        }
        tx.commit().at(path)?;
    }
    let mut cache = lock(&shared.cache);
    for (id, vector) in stored {
        cache.set_vector(id, vector);
    }
    Ok(pending.len())
}

fn take_pending(shared: &Shared) -> Result<Vec<Pending>, MemoryError> {
    let path = &shared.path;
    let conn = lock(&shared.conn);
    let mut statement = conn
        .prepare_cached(
            "SELECT id, speaker, text FROM items WHERE embedded = 0 ORDER BY id LIMIT ?1",
        )
        .at(path)?;
    let rows = statement
        .query_map([ROUND as i64], |row| {
            let speaker: String = row.get(1)?;
            let text: String = row.get(2)?;
            Ok(Pending {
                id: row.get(0)?,
                text: speaker_line(&speaker, &text),
            })
        })
        .at(path)?;
    rows.collect::<Result<Vec<_>, _>>().at(path)
}
