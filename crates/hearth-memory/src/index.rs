//! The in-process view of every item that search scores against: kind, session,
//! speaker, time and vectors, kept in step with `memory.db` (reloaded when another
//! process writes to it, which `PRAGMA data_version` reveals).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rusqlite::Connection;

use crate::embed::from_blob;
use crate::item::ItemKind;
use crate::text::{first_name, words};
use crate::time::mentions_time;

/// One item as search sees it. Its names are shared with every other entry that has
/// the same (see [`Cache::push`]): a memory holds many turns of few sessions and speakers.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub id: i64,
    pub kind: ItemKind,
    pub session: Arc<str>,
    pub speaker: Arc<str>,
    pub ts: i64,
    /// Position in its session (turns) or file (chunks).
    pub seq: i64,
    /// A file chunk's workspace; empty for turns and notes (see [`MemoryItem::visible_from`]).
    ///
    /// [`MemoryItem::visible_from`]: crate::MemoryItem::visible_from
    pub workspace: Arc<str>,
    /// Embedding of the item's own text.
    pub vec: Option<Box<[f32]>>,
    /// Whether the text says when something happened (see [`mentions_time`]).
    pub dated: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    pub entries: Vec<Entry>,
    position: HashMap<i64, usize>,
    /// The first names of every speaker, lower-cased (a forgotten speaker's stays
    /// until the next load; it only keeps that word out of a query's embedding).
    pub speaker_names: BTreeSet<String>,
    /// One copy of each session id, speaker and workspace the entries name.
    names: HashSet<Arc<str>>,
    /// `PRAGMA data_version` when loaded; `None` until the first load.
    pub data_version: Option<i64>,
}

impl Cache {
    /// Reads every item and vector from the database.
    pub fn load(conn: &Connection) -> rusqlite::Result<Cache> {
        let mut cache = Cache::default();
        let mut items = conn.prepare(
            "SELECT id, kind, session, speaker, ts, seq, text, workspace FROM items ORDER BY id",
        )?;
        let rows = items.query_map([], |row| {
            Ok(Entry {
                id: row.get(0)?,
                kind: ItemKind::parse(&row.get::<_, String>(1)?),
                session: row.get::<_, String>(2)?.into(),
                speaker: row.get::<_, String>(3)?.into(),
                ts: row.get(4)?,
                seq: row.get(5)?,
                workspace: row.get::<_, String>(7)?.into(),
                vec: None,
                dated: mentions_time(&row.get::<_, String>(6)?),
            })
        })?;
        for entry in rows {
            cache.push(entry?);
        }
        let mut vectors = conn.prepare("SELECT item_id, vec FROM vectors WHERE view = 0")?;
        let rows = vectors.query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        for row in rows {
            let (id, blob) = row?;
            cache.set_vector(id, from_blob(&blob));
        }
        cache.data_version = Some(data_version(conn)?);
        Ok(cache)
    }

    /// Adds `entry`, its names replaced by the copies other entries share.
    pub fn push(&mut self, mut entry: Entry) {
        if let Some(first) = first_name(&entry.speaker) {
            self.speaker_names.insert(first);
        }
        for name in [&mut entry.session, &mut entry.speaker, &mut entry.workspace] {
            *name = self.intern(name);
        }
        self.position.insert(entry.id, self.entries.len());
        self.entries.push(entry);
    }

    /// The shared copy of `name`, made the shared copy if there is none yet.
    fn intern(&mut self, name: &Arc<str>) -> Arc<str> {
        match self.names.get(name) {
            Some(shared) => Arc::clone(shared),
            None => {
                self.names.insert(Arc::clone(name));
                Arc::clone(name)
            }
        }
    }

    pub fn remove(&mut self, id: i64) {
        let Some(index) = self.position.remove(&id) else {
            return;
        };
        let removed = self.entries.swap_remove(index);
        if let Some(moved) = self.entries.get(index) {
            self.position.insert(moved.id, index);
        }
        // A name no other entry holds goes too (held here and in `names` only).
        for name in [removed.session, removed.speaker, removed.workspace] {
            if Arc::strong_count(&name) == 2 {
                self.names.remove(&name);
            }
        }
    }

    pub fn set_vector(&mut self, id: i64, vector: Vec<f32>) {
        if let Some(entry) = self
            .position
            .get(&id)
            .and_then(|&i| self.entries.get_mut(i))
        {
            entry.vec = Some(vector.into_boxed_slice());
        }
    }

    pub fn clear_vectors(&mut self) {
        for entry in &mut self.entries {
            entry.vec = None;
        }
    }

    /// For each entry, the indices of the previous and the next turn of its
    /// session, if any.
    pub fn neighbour_turns(&self) -> Vec<(Option<usize>, Option<usize>)> {
        let mut by_place: HashMap<(&str, i64), usize> = HashMap::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.kind == ItemKind::Turn {
                by_place.insert((&*entry.session, entry.seq), i);
            }
        }
        self.entries
            .iter()
            .map(|entry| {
                if entry.kind != ItemKind::Turn {
                    return (None, None);
                }
                let at = |seq: i64| by_place.get(&(&*entry.session, seq)).copied();
                (at(entry.seq - 1), at(entry.seq + 1))
            })
            .collect()
    }

    /// `query` without the words that name a speaker, for embedding: who is asked
    /// about is left to the speaker preference, so the vector carries what is asked.
    /// The whole query when nothing else would be left.
    pub fn without_speaker_names(&self, query: &str) -> String {
        let kept: Vec<&str> = query
            .split_whitespace()
            .filter(|token| {
                !words(token)
                    .next()
                    .is_some_and(|word| self.speaker_names.contains(&word))
            })
            .collect();
        if kept.iter().any(|token| words(token).next().is_some()) {
            kept.join(" ")
        } else {
            query.to_string()
        }
    }

    /// The newest time of any item, the "now" of the memory.
    pub fn newest(&self) -> Option<i64> {
        self.entries.iter().map(|e| e.ts).max()
    }
}

/// Changes whenever another connection commits to the database.
pub(crate) fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "data_version", |row| row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(id: i64, speaker: &str) -> Entry {
        Entry {
            id,
            kind: ItemKind::Turn,
            session: "s".into(),
            speaker: speaker.into(),
            ts: 0,
            seq: id,
            workspace: "".into(),
            vec: None,
            dated: false,
        }
    }

    #[test]
    fn entries_share_their_names_and_a_name_goes_with_its_last_entry() {
        let mut cache = Cache::default();
        cache.push(turn(1, "Leila"));
        cache.push(turn(2, "Omar"));
        cache.push(turn(3, "Leila"));
        let (first, third) = (&cache.entries[0], &cache.entries[2]);
        assert!(Arc::ptr_eq(&first.session, &third.session));
        assert!(Arc::ptr_eq(&first.speaker, &third.speaker));
        // "s", "" (the workspace), "Leila" and "Omar".
        assert_eq!(cache.names.len(), 4);
        cache.remove(2);
        assert!(!cache.names.contains("Omar"));
        cache.remove(1);
        assert!(cache.names.contains("Leila"), "entry 3 still holds it");
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.position[&3], 0);
    }

    #[test]
    fn a_query_loses_the_speakers_names_unless_nothing_else_is_left() {
        let mut cache = Cache::default();
        cache.push(turn(1, "Leila Haddad"));
        cache.push(turn(2, "omar"));
        assert_eq!(
            cache.without_speaker_names("Where did Leila and Omar's dog go hiking?"),
            "Where did and dog go hiking?"
        );
        assert_eq!(cache.without_speaker_names("Leila?"), "Leila?");
        assert_eq!(cache.without_speaker_names("Haddad"), "Haddad");
    }
}
