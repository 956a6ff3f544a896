//! Hybrid retrieval. Every item gets a few signals — BM25 of its own words, BM25 of
//! the previous turn's words, cosine of its vector and of its window vector (the turn
//! with its predecessor) — each z-scored over the whole memory, then blended by
//! [`Weights`]. A session-level score (the mean of a session's best turns) is added
//! to each of its turns, plus a small bonus when the query names a month or year that
//! contains the item's time. The turns of a speaker the query names are ranked first
//! (unless others are far more relevant), and a question about when puts the best few
//! that say when first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::embed::cosine;
use crate::error::{AtDatabase, MemoryError};
use crate::files::workspace_key;
use crate::index::{data_version, Cache, Entry};
use crate::item::{ItemKind, MemoryItem};
use hearth_tools::neutralise_tag;

/// The tag around the recall block.
pub(crate) const RECALL_TAG: &str = "recalled-memory";
use crate::store::{lock, read_items, Memory};
use crate::text::{clip, estimate_tokens, first_name, fts_any, query_terms, words};
use crate::time::{asks_when, named_range};

/// How the signals are blended. The defaults were chosen on LoCoMo (see the bench
/// module); every weight multiplies a z-score, so they are comparable.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Weights {
    /// BM25 of the item's text (and, at `speaker_column`, its speaker).
    pub bm25: f32,
    /// BM25 of the previous turn's text.
    pub bm25_context: f32,
    /// Cosine between the query and the item.
    pub dense: f32,
    /// Cosine between the query and the item's window: its vector plus
    /// `window_prev` times the previous turn's, renormalised.
    pub dense_window: f32,
    pub window_prev: f32,
    /// …plus this much of the next turn's.
    pub window_next: f32,
    /// The session's score (mean of its best `session_top` turns) added to each turn.
    pub session: f32,
    pub session_top: usize,
    /// BM25 of the whole session (each turn a "term occurrence"), z-scored over
    /// sessions and added to each of its turns.
    pub session_bm25: f32,
    /// Pseudo-relevance feedback: the query vector moves this far towards the mean
    /// of the `prf_top` best first-pass items before the dense signals are redone.
    pub prf: f32,
    pub prf_top: usize,
    /// Session diversity: while ranking, each turn already taken from a session
    /// lowers that session's other turns by this much.
    pub diversity: f32,
    /// Added, for ordering only, to the turns of a speaker the query names: with the
    /// default, their turns come first unless another's are far more relevant.
    pub speaker: f32,
    /// Bonus when the item's time falls in a month or year the query names.
    pub time: f32,
    /// When the query asks when (or how long), the best this many are re-ranked so
    /// those whose text says when come first, each group in its order.
    pub when_rerank: usize,
    /// Weight of the speaker column inside the item's BM25.
    pub speaker_column: f32,
}

impl Default for Weights {
    /// Chosen on locomo-dev (see the bench module docs for the log of what was tried).
    fn default() -> Self {
        Weights {
            bm25: 0.4,
            bm25_context: 0.15,
            dense: 0.4,
            dense_window: 0.3,
            window_prev: 1.0,
            window_next: 0.0,
            session: 0.3,
            session_top: 3,
            session_bm25: 0.5,
            prf: 0.0,
            prf_top: 3,
            diversity: 0.0,
            speaker: 3.0,
            time: 0.3,
            when_rerank: 10,
            speaker_column: 1.0,
        }
    }
}

/// What a search returns and how much.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// Most hits returned.
    pub limit: usize,
    /// Stop adding hits once their text would pass this many tokens (the first hit
    /// always comes back).
    pub max_tokens: Option<usize>,
    /// Leave out hits that share no word with the query and whose meaning is far
    /// from it (cosine below 0.25), however they rank.
    pub relevant_only: bool,
    pub weights: Weights,
    /// The workspace searched from: its memory files may come back, other
    /// workspaces' never; with `None`, no memory file does. Turns and notes always may.
    pub workspace: Option<PathBuf>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            limit: 10,
            max_tokens: None,
            relevant_only: true,
            weights: Weights::default(),
            workspace: None,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryHit {
    #[serde(flatten)]
    pub item: MemoryItem,
    /// The blended relevance (z-units; higher is better). Hits come in rank order,
    /// which also puts a named speaker's turns and, for a question about when, the
    /// turns that say when first, so scores need not descend.
    pub score: f32,
    /// Best cosine between the query and the item's vectors, when it has any.
    pub cosine: Option<f32>,
}

/// With `relevant_only`, a hit without a shared word needs this cosine.
const RELEVANT_COSINE: f32 = 0.25;
/// BM25 parameters of the session-level keyword score.
const SESSION_K1: f32 = 1.2;
const SESSION_B: f32 = 0.75;

/// One ranked item.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub id: i64,
    pub score: f32,
    /// Best cosine between the query and the item's vectors, when it has any.
    pub cosine: Option<f32>,
    /// Whether the item shares a (stemmed) word with the query, or falls in the
    /// month or year the query names.
    pub matched: bool,
}

/// A hit must reach this blended score to be recalled unasked.
const RECALL_MIN_SCORE: f32 = 2.0;
/// …and, when vectors exist, this cosine.
const RECALL_MIN_COSINE: f32 = 0.3;
/// Hits considered for the recall block.
const RECALL_CANDIDATES: usize = 5;
/// In a memory of fewer items than this, z-scores are too compressed to reach
/// [`RECALL_MIN_SCORE`] (with two items no signal's z passes 1), so every relevant
/// hit that scores above the memory's average is offered: a new user's first memories
/// are recalled too.
const RECALL_SMALL_MEMORY: usize = 50;

impl Memory {
    /// The best items for `query`, best first.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<Vec<MemoryHit>, MemoryError> {
        let ranked = self.rank(query, opts)?;
        let conn = lock(&self.shared.conn);
        let mut hits = Vec::new();
        let mut tokens = 0;
        for Ranked {
            id,
            score,
            cosine,
            matched,
        } in ranked
        {
            if opts.relevant_only && !matched && cosine.is_none_or(|c| c < RELEVANT_COSINE) {
                continue;
            }
            let Some(item) = read_items(&conn, &self.shared.path, "WHERE id = ?1", [id])?.pop()
            else {
                continue;
            };
            tokens += estimate_tokens(&item.text);
            if opts.max_tokens.is_some_and(|max| tokens > max) && !hits.is_empty() {
                break;
            }
            hits.push(MemoryHit {
                item,
                score,
                cosine,
            });
        }
        Ok(hits)
    }

    /// The best `opts.limit` items visible from `opts.workspace`, best first, with
    /// their scores.
    pub fn rank(&self, query: &str, opts: &SearchOptions) -> Result<Vec<Ranked>, MemoryError> {
        let (weights, limit) = (&opts.weights, opts.limit);
        let workspace = opts.workspace.as_deref().map(workspace_key);
        let visible =
            |e: &Entry| e.kind != ItemKind::File || workspace.as_deref() == Some(&*e.workspace);
        let path = &self.shared.path;
        let terms = query_terms(query);
        // The query is embedded on its own thread while this one reads the keyword
        // index; the embedding takes no lock, so captures and the worker go on.
        // The cache is brought up to date first: it knows the speakers' names.
        let to_embed = {
            let conn = lock(&self.shared.conn);
            let mut cache = lock(&self.shared.cache);
            let version = data_version(&conn).at(path)?;
            if cache.data_version != Some(version) {
                *cache = Cache::load(&conn).at(path)?;
            }
            // Nothing to recall: the embedding model is not worth loading.
            (!cache.entries.is_empty()).then(|| cache.without_speaker_names(query))
        };
        let Some(to_embed) = to_embed else {
            return Ok(Vec::new());
        };
        let to_embed = to_embed.as_str();
        let embedder = self.embedder();
        let (query_vector, keywords) = std::thread::scope(|scope| {
            let embedding =
                embedder.map(|embedder| scope.spawn(move || embedder.embed(&[to_embed])));
            let read = Keywords::read(&lock(&self.shared.conn), &terms, weights).at(path);
            let query_vector = match embedding {
                Some(handle) => handle
                    .join()
                    .map_err(|_| MemoryError::Embed {
                        batch: 1,
                        reason: "the embedding thread panicked".into(),
                    })??
                    .pop(),
                None => None,
            };
            Ok::<_, MemoryError>((query_vector, read?))
        })?;
        // Taken after the embedding is done, so the worker is not held up meanwhile;
        // if it stored a vector since, the newer cache is the better one.
        let cache = lock(&self.shared.cache);
        let entries = &cache.entries;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut signals = Signals::compute(&cache, &keywords, query_vector.as_deref(), weights);
        let mut scores = signals.blend(weights);
        if let (Some(q), true) = (&query_vector, weights.prf != 0.0) {
            let moved = feedback(q, entries, &scores, weights);
            signals = Signals::compute(&cache, &keywords, Some(&moved), weights);
            scores = signals.blend(weights);
        }
        add_session_scores(entries, &mut scores, weights);
        add_session_bm25(entries, &mut scores, &keywords.per_term, weights);
        let in_time = add_time_bonus(entries, &mut scores, query, weights, cache.newest());
        // The speaker preference orders but is not relevance: it stays out of the
        // reported score, which the recall block judges.
        let mut ordering = scores.clone();
        if weights.speaker != 0.0 {
            for (named, score) in named_speakers(entries, query).iter().zip(&mut ordering) {
                if *named {
                    *score += weights.speaker;
                }
            }
        }
        // Other workspaces' files are never offered: last, then left out.
        for (entry, score) in entries.iter().zip(&mut ordering) {
            if !visible(entry) {
                *score = f32::NEG_INFINITY;
            }
        }
        let mut order = diversified(
            entries,
            &ordering,
            weights.diversity,
            limit.max(weights.when_rerank),
        );
        order.retain(|&i| visible(&entries[i]));
        if asks_when(query) {
            dated_first(entries, &mut order, weights.when_rerank);
        }
        order.truncate(limit);
        Ok(order
            .into_iter()
            .map(|i| Ranked {
                id: entries[i].id,
                score: scores[i],
                cosine: signals.best_cosine(i),
                matched: signals.bm25[i] > 0.0 || signals.bm25_context[i] > 0.0 || in_time[i],
            })
            .collect())
    }

    /// The few memories worth showing the model before a turn in `workspace`, or
    /// `None` when none clears the bar: formatted, within `budget_chars`, each with its
    /// provenance, inside one `<recalled-memory>` block their text cannot close.
    pub fn recall_block(
        &self,
        query: &str,
        workspace: &Path,
        budget_chars: usize,
    ) -> Result<Option<String>, MemoryError> {
        let opts = SearchOptions {
            limit: RECALL_CANDIDATES,
            workspace: Some(workspace.to_path_buf()),
            ..SearchOptions::default()
        };
        let hits = self.search(query, &opts)?;
        let has_vectors = self.shared.loaded_embedder().is_some();
        let small = lock(&self.shared.cache).entries.len() < RECALL_SMALL_MEMORY;
        let hits: Vec<MemoryHit> = hits
            .into_iter()
            .filter(|hit| hit.score >= RECALL_MIN_SCORE || (small && hit.score > 0.0))
            .filter(|hit| !has_vectors || hit.cosine.is_none_or(|c| c >= RECALL_MIN_COSINE))
            .collect();
        Ok(format_recall(&hits, budget_chars))
    }
}

/// What the keyword index says about a query.
struct Keywords {
    /// BM25 of each matching item's own text (and speaker).
    body: HashMap<i64, f32>,
    /// BM25 of each matching item's context (the previous turn).
    context: HashMap<i64, f32>,
    /// For each query term, the items whose text holds it.
    per_term: Vec<Vec<i64>>,
}

impl Keywords {
    fn read(
        conn: &rusqlite::Connection,
        terms: &[String],
        weights: &Weights,
    ) -> rusqlite::Result<Keywords> {
        let Some(any) = fts_any(terms) else {
            return Ok(Keywords {
                body: HashMap::new(),
                context: HashMap::new(),
                per_term: Vec::new(),
            });
        };
        // One pass over the matches scores both columns: FTS5 reads each row's sizes
        // and positions once for all the `bm25` calls of a row.
        let with_context = weights.bm25_context != 0.0;
        let mut columns = vec![[weights.speaker_column, 1.0, 0.0]];
        if with_context {
            columns.push([0.0, 0.0, 1.0]);
        }
        // A single term is in a row's body exactly when its body-only BM25 is not 0
        // (FTS5's idf is never below 1e-6): the same pass says which rows hold it.
        let single = terms.len() == 1 && weights.session_bm25 != 0.0;
        if single {
            columns.push([0.0, 1.0, 0.0]);
        }
        let mut scores = bm25(conn, &any, &columns)?;
        let in_body = if single { scores.pop() } else { None };
        let context = if with_context {
            scores.pop().unwrap_or_default()
        } else {
            HashMap::new()
        };
        let body = scores.pop().unwrap_or_default();
        let mut per_term = Vec::new();
        if let Some(in_body) = in_body {
            per_term.push(
                in_body
                    .into_iter()
                    .filter(|&(_, score)| score != 0.0)
                    .map(|(id, _)| id)
                    .collect(),
            );
        } else if weights.session_bm25 != 0.0 {
            let mut statement =
                conn.prepare_cached("SELECT rowid FROM items_fts WHERE items_fts MATCH ?1")?;
            for term in terms {
                let Some(expression) = fts_any(std::slice::from_ref(term)) else {
                    continue;
                };
                let ids = statement
                    .query_map([format!("body : {expression}")], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                per_term.push(ids);
            }
        }
        Ok(Keywords {
            body,
            context,
            per_term,
        })
    }
}

/// Scores of every FTS match of an expression as positive BM25 (higher is better), one
/// map for each set of column weights (speaker, body, context), in one pass.
fn bm25(
    conn: &rusqlite::Connection,
    expression: &str,
    column_weights: &[[f32; 3]],
) -> rusqlite::Result<Vec<HashMap<i64, f32>>> {
    let calls: Vec<String> = column_weights
        .iter()
        .map(|[s, b, c]| format!("bm25(items_fts, {s}, {b}, {c})"))
        .collect();
    let sql = format!(
        "SELECT rowid, {} FROM items_fts WHERE items_fts MATCH ?1",
        calls.join(", ")
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut maps = vec![HashMap::new(); column_weights.len()];
    let mut rows = statement.query([expression])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        for (column, map) in maps.iter_mut().enumerate() {
            map.insert(id, -row.get::<_, f64>(column + 1)? as f32);
        }
    }
    Ok(maps)
}

/// The best `limit` entries, best first; with `diversity`, each pick lowers the
/// other turns of its session by that much (greedy, over the top candidates).
fn diversified(entries: &[Entry], scores: &[f32], diversity: f32, limit: usize) -> Vec<usize> {
    let pool_size = if diversity == 0.0 {
        limit
    } else {
        limit.saturating_mul(4)
    };
    let order = best_first(scores, pool_size);
    if diversity == 0.0 {
        return order;
    }
    let mut pool = order;
    let mut taken: HashMap<&str, f32> = HashMap::new();
    let mut out = Vec::with_capacity(limit);
    while out.len() < limit && !pool.is_empty() {
        let adjusted = |i: usize| {
            let e = &entries[i];
            let penalty = if e.kind == ItemKind::Turn {
                taken.get(&*e.session).copied().unwrap_or(0.0)
            } else {
                0.0
            };
            scores[i] - penalty
        };
        let (best, _) = pool
            .iter()
            .enumerate()
            .max_by(|(_, &a), (_, &b)| adjusted(a).total_cmp(&adjusted(b)))
            .map(|(p, &i)| (p, i))
            .unwrap_or((0, pool[0]));
        let i = pool.remove(best);
        if entries[i].kind == ItemKind::Turn {
            *taken.entry(&*entries[i].session).or_insert(0.0) += diversity;
        }
        out.push(i);
    }
    out
}

/// The indices of the best `n` scores, best first, ties in index order (what a stable
/// sort of every index would begin with), without sorting the rest.
fn best_first(scores: &[f32], n: usize) -> Vec<usize> {
    let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..scores.len()).collect();
    if n < order.len() {
        if n == 0 {
            return Vec::new();
        }
        order.select_nth_unstable_by(n - 1, better);
        order.truncate(n);
    }
    order.sort_unstable_by(better);
    order
}

/// Moves the items among the first `depth` of `order` whose text says when ahead of
/// those that do not, keeping each group's order: the turn that answers "when did…"
/// usually says "last Friday" or "in 2022".
fn dated_first(entries: &[Entry], order: &mut [usize], depth: usize) {
    let head = depth.min(order.len());
    order[..head].sort_by_key(|&i| !entries[i].dated);
}

/// The query vector moved towards the mean vector of the best first-pass items.
fn feedback(query: &[f32], entries: &[Entry], scores: &[f32], w: &Weights) -> Vec<f32> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut moved = query.to_vec();
    let top: Vec<&[f32]> = order
        .iter()
        .filter_map(|&i| entries[i].vec.as_deref())
        .take(w.prf_top.max(1))
        .collect();
    for v in &top {
        for (m, x) in moved.iter_mut().zip(v.iter()) {
            *m += w.prf * x / top.len() as f32;
        }
    }
    let norm = moved.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    moved.iter_mut().for_each(|x| *x /= norm);
    moved
}

/// Adds each session's z-scored BM25 (a turn holding a term counts as one
/// occurrence; a session's length is its number of turns) to its turns.
fn add_session_bm25(entries: &[Entry], scores: &mut [f32], per_term: &[Vec<i64>], w: &Weights) {
    if w.session_bm25 == 0.0 || per_term.is_empty() {
        return;
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut lengths: Vec<f32> = Vec::new();
    let mut session_of: HashMap<i64, usize> = HashMap::new();
    for entry in entries.iter().filter(|e| e.kind == ItemKind::Turn) {
        let next = index.len();
        let s = *index.entry(&*entry.session).or_insert(next);
        if s == lengths.len() {
            lengths.push(0.0);
        }
        lengths[s] += 1.0;
        session_of.insert(entry.id, s);
    }
    let n = lengths.len() as f32;
    let average = lengths.iter().sum::<f32>() / n.max(1.0);
    let mut raw = vec![0.0f32; lengths.len()];
    for ids in per_term {
        let mut tf = vec![0.0f32; lengths.len()];
        for id in ids {
            if let Some(&s) = session_of.get(id) {
                tf[s] += 1.0;
            }
        }
        let df = tf.iter().filter(|&&t| t > 0.0).count() as f32;
        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
        for (s, t) in tf.iter().enumerate() {
            let norm = SESSION_K1 * (1.0 - SESSION_B + SESSION_B * lengths[s] / average);
            raw[s] += idf * t * (SESSION_K1 + 1.0) / (t + norm);
        }
    }
    let z = zscores(&raw);
    for (entry, score) in entries.iter().zip(scores.iter_mut()) {
        if let Some(&s) = session_of.get(&entry.id) {
            *score += w.session_bm25 * z[s];
        }
    }
}

/// The raw signals of every entry, in cache order.
struct Signals {
    bm25: Vec<f32>,
    bm25_context: Vec<f32>,
    dense: Vec<Option<f32>>,
    dense_window: Vec<Option<f32>>,
}

impl Signals {
    fn compute(
        cache: &Cache,
        keywords: &Keywords,
        query: Option<&[f32]>,
        weights: &Weights,
    ) -> Signals {
        let entries = &cache.entries;
        let window_prev = weights.window_prev;

        let keyword = |map: &HashMap<i64, f32>| -> Vec<f32> {
            entries
                .iter()
                .map(|e| map.get(&e.id).copied().unwrap_or(0.0))
                .collect()
        };
        let dense: Vec<Option<f32>> = entries
            .iter()
            .map(|e| query.zip(e.vec.as_deref()).map(|(q, v)| cosine(q, v)))
            .collect();
        // cos(q, a + p·b + n·c) = (q·a + p·q·b + n·q·c) / |a + p·b + n·c|, and for unit
        // vectors |…|² = 1 + p² + n² + 2p·a·b + 2n·a·c + 2pn·b·c: no vector is built.
        // A note, or a turn without neighbours, is its own window.
        let window_next = weights.window_next;
        // Without a query vector no entry has a window cosine: the neighbours (a pass
        // over the whole memory) are not looked up.
        let neighbours = match query {
            Some(_) => cache.neighbour_turns(),
            None => vec![(None, None); entries.len()],
        };
        let dense_window = neighbours
            .iter()
            .enumerate()
            .map(|(i, &(prev, next))| {
                let own = dense[i]?;
                let a = entries[i].vec.as_deref()?;
                let side = |j: Option<usize>, w: f32| {
                    let j = j.filter(|_| w != 0.0)?;
                    Some((w, dense[j]?, entries[j].vec.as_deref()?))
                };
                let (p, n) = (side(prev, window_prev), side(next, window_next));
                let mut dot = own;
                let mut norm2 = 1.0;
                for (w, qv, v) in [p, n].into_iter().flatten() {
                    dot += w * qv;
                    norm2 += w * w + 2.0 * w * cosine(a, v);
                }
                if let (Some((wp, _, vp)), Some((wn, _, vn))) = (p, n) {
                    norm2 += 2.0 * wp * wn * cosine(vp, vn);
                }
                Some(dot / norm2.max(1e-6).sqrt())
            })
            .collect();
        Signals {
            bm25: keyword(&keywords.body),
            bm25_context: keyword(&keywords.context),
            dense,
            dense_window,
        }
    }

    fn best_cosine(&self, i: usize) -> Option<f32> {
        match (self.dense[i], self.dense_window[i]) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn blend(&self, w: &Weights) -> Vec<f32> {
        let mut out = vec![0.0; self.bm25.len()];
        add_scaled(&mut out, &zscores(&self.bm25), w.bm25);
        add_scaled(&mut out, &zscores(&self.bm25_context), w.bm25_context);
        add_scaled(&mut out, &zscores_sparse(&self.dense), w.dense);
        add_scaled(
            &mut out,
            &zscores_sparse(&self.dense_window),
            w.dense_window,
        );
        out
    }
}

fn add_scaled(out: &mut [f32], values: &[f32], weight: f32) {
    if weight == 0.0 {
        return;
    }
    for (o, v) in out.iter_mut().zip(values) {
        *o += weight * v;
    }
}

/// `(x - mean) / std` over all values; all zeros when they do not vary.
pub(crate) fn zscores(values: &[f32]) -> Vec<f32> {
    let n = values.len().max(1) as f32;
    let mean = values.iter().sum::<f32>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
    let std = var.sqrt();
    if std < 1e-9 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - mean) / std).collect()
}

/// Like [`zscores`] over the values present; a missing one scores 0 (the mean).
fn zscores_sparse(values: &[Option<f32>]) -> Vec<f32> {
    let present: Vec<f32> = values.iter().flatten().copied().collect();
    if present.is_empty() {
        return vec![0.0; values.len()];
    }
    let z = zscores(&present);
    let mut next = z.into_iter();
    values
        .iter()
        .map(|v| v.and_then(|_| next.next()).unwrap_or(0.0))
        .collect()
}

/// Adds to each turn its session's z-scored score: the mean of the session's best
/// `session_top` turn scores.
fn add_session_scores(entries: &[Entry], scores: &mut [f32], w: &Weights) {
    if w.session == 0.0 {
        return;
    }
    let mut by_session: HashMap<&str, Vec<f32>> = HashMap::new();
    for (entry, score) in entries.iter().zip(scores.iter()) {
        if entry.kind == ItemKind::Turn {
            by_session.entry(&*entry.session).or_default().push(*score);
        }
    }
    let top = w.session_top.max(1);
    let names: Vec<&str> = by_session.keys().copied().collect();
    let raw: Vec<f32> = names
        .iter()
        .map(|name| {
            let mut s = by_session[name].clone();
            s.sort_by(|a, b| b.total_cmp(a));
            let best = &s[..s.len().min(top)];
            best.iter().sum::<f32>() / best.len() as f32
        })
        .collect();
    let z: HashMap<&str, f32> = names.into_iter().zip(zscores(&raw)).collect();
    for (entry, score) in entries.iter().zip(scores.iter_mut()) {
        if let Some(s) = z.get(&*entry.session) {
            *score += w.session * s;
        }
    }
}

/// Whether the query names each entry's speaker (by first name).
fn named_speakers(entries: &[Entry], query: &str) -> Vec<bool> {
    let query_words: Vec<String> = words(query).collect();
    let named =
        |speaker: &str| first_name(speaker).is_some_and(|first| query_words.contains(&first));
    let mut memo: HashMap<&str, bool> = HashMap::new();
    entries
        .iter()
        .map(|entry| {
            *memo
                .entry(&*entry.speaker)
                .or_insert_with(|| named(&entry.speaker))
        })
        .collect()
}

/// The time bonus; returns which entries fall in the time the query names.
fn add_time_bonus(
    entries: &[Entry],
    scores: &mut [f32],
    query: &str,
    w: &Weights,
    newest: Option<i64>,
) -> Vec<bool> {
    let in_time: Vec<bool> = match named_range(query, newest) {
        Some(range) => entries
            .iter()
            .map(|e| (range.start..range.end).contains(&e.ts))
            .collect(),
        None => vec![false; entries.len()],
    };
    for (inside, score) in in_time.iter().zip(scores.iter_mut()) {
        if *inside {
            *score += w.time;
        }
    }
    in_time
}

/// The recall block: one line a memory, as ranked, within budget. Each line says where
/// the memory came from and is neutralised, so no memory can close the block early.
fn format_recall(hits: &[MemoryHit], budget_chars: usize) -> Option<String> {
    const OPEN: &str = "<recalled-memory>\nMemories recalled automatically for this message; they may be outdated. Only \"user\" ones are the user's words: \"agent\" ones you wrote, \"file\" ones come from workspace files, \"untrusted\" ones from outside.\n";
    const CLOSE: &str = "</recalled-memory>";
    let mut body = String::new();
    for hit in hits {
        let item = &hit.item;
        let date = item.timestamp.get(..10).unwrap_or(&item.timestamp);
        let who = if item.speaker.is_empty() {
            String::new()
        } else {
            format!("{}: ", item.speaker)
        };
        let head = neutralise_tag(
            &format!("- [#{} {} {}] {who}", item.id, date, item.source_label()),
            RECALL_TAG,
        );
        let room =
            budget_chars.saturating_sub(OPEN.len() + CLOSE.len() + body.len() + head.len() + 1);
        if room < 40 {
            break;
        }
        body.push_str(&head);
        let text = neutralise_tag(&item.text.replace('\n', " "), RECALL_TAG);
        body.push_str(&clip(&text, room));
        body.push('\n');
    }
    (!body.is_empty()).then(|| format!("{OPEN}{body}{CLOSE}"))
}
