//! The local embedding model: any BERT-family folder (config.json, tokenizer.json,
//! model.safetensors, optional 1_Pooling/config.json) run in-process on the CPU with
//! candle; mean (or CLS) pooling and L2 normalisation, as sentence-transformers does.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::bert::Config;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use crate::encoder::{Encoder, WORD_EMBEDDINGS};
use crate::error::MemoryError;
use crate::weights::read_safetensors_leaving;

/// The folder name of the default model inside the model cache.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";
/// Longest input in tokens; longer texts are cut (all-MiniLM-L6-v2 was trained on 256).
const MAX_TOKENS: usize = 256;
/// Most texts in one forward pass…
const BATCH_TEXTS: usize = 64;
/// …and most tokens, padding included: texts are sorted by length and cut into
/// batches of similar length, so short texts do not pay for a long one's padding.
const BATCH_TOKENS: usize = 1024;

/// Names a BERT-family model folder to embed with instead of the default (read by the
/// caller: see [`EmbedderSettings::from_vars`]).
pub const EMBEDDER_ENV: &str = "HEARTH_EMBEDDER";

/// Which embedding model to load, as the caller resolved it from its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedderSettings {
    /// A model folder asked for by name (`$HEARTH_EMBEDDER`): an error if it does not load.
    pub chosen: Option<PathBuf>,
    /// The model cache (see [`hearth_protocol::model_cache_dir`]), where the default
    /// model lives in `all-MiniLM-L6-v2/`.
    pub model_cache: Option<PathBuf>,
}

impl EmbedderSettings {
    /// The settings from variables looked up by `var` (`HEARTH_EMBEDDER`,
    /// `HEARTH_MODELS`, `HOME`), e.g. `|name| std::env::var_os(name)`.
    pub fn from_vars(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Self {
        Self {
            chosen: var(EMBEDDER_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            model_cache: hearth_protocol::model_cache_dir(&var),
        }
    }

    /// The embedding model's folder: the chosen one, else `<cache>/all-MiniLM-L6-v2`.
    pub fn model_dir(&self) -> Option<PathBuf> {
        self.chosen
            .clone()
            .or_else(|| self.model_cache.as_ref().map(|dir| dir.join(DEFAULT_MODEL)))
    }
}

/// Makes candle run each matrix product on one thread, as the embedder wants: it
/// runs whole batches side by side on its own pool instead, which is faster (on 2
/// cores, 156–190 sentences/s against 95–120 when candle also splits each product).
/// candle reads `RAYON_NUM_THREADS` at every product, so this sets it to 1 unless the
/// user set it. Call it first thing in `main`, before any other thread starts.
pub fn use_single_threaded_kernels() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
}

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pooling {
    Mean,
    Cls,
}

/// A loaded sentence-embedding model. Cheap to share behind an `Arc`; `embed` takes
/// `&self` and may run on several threads at once.
pub struct Embedder {
    model: Encoder,
    /// One thread a core: each runs whole batches, side by side.
    batches: rayon::ThreadPool,
    /// One thread: a lone batch (a query) is too small to gain from splitting its
    /// matrix products, and loses to the hand-offs.
    single: rayon::ThreadPool,
    tokenizer: Tokenizer,
    pooling: Pooling,
    pad_id: u32,
    dim: usize,
    id: String,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("id", &self.id)
            .field("dim", &self.dim)
            .finish()
    }
}

fn load_error(dir: &Path, reason: impl std::fmt::Display) -> MemoryError {
    MemoryError::ModelLoad {
        dir: dir.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Embedder {
    /// Loads the model in `dir`. Fails with a message naming the fetch command when
    /// a file is missing or unreadable.
    pub fn load(dir: &Path) -> Result<Embedder, MemoryError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| load_error(dir, format!("{name}: {e}")))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| load_error(dir, format!("config.json: {e}")))?;
        let pooling = match std::fs::read(dir.join("1_Pooling/config.json")) {
            Ok(bytes) => {
                let value: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| load_error(dir, format!("1_Pooling/config.json: {e}")))?;
                if value["pooling_mode_cls_token"].as_bool() == Some(true) {
                    Pooling::Cls
                } else {
                    Pooling::Mean
                }
            }
            Err(_) => Pooling::Mean,
        };
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_error(dir, format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS.min(config.max_position_embeddings),
                ..TruncationParams::default()
            }))
            .map_err(|e| load_error(dir, format!("tokenizer.json truncation: {e}")))?;
        // Batches are padded here, to their own longest text; tokenizer.json may ask
        // for a fixed width (all-MiniLM-L6-v2's asks for 128), which would waste work.
        tokenizer.with_padding(None);
        let weights_path = dir.join("model.safetensors");
        let weights_len = std::fs::metadata(&weights_path)
            .map_err(|e| load_error(dir, format!("model.safetensors: {e}")))?
            .len();
        // The word embeddings stay in the file: a text reads only its tokens' rows.
        let read = read_safetensors_leaving(&weights_path, &|name| name.ends_with(WORD_EMBEDDINGS))
            .map_err(|e| load_error(dir, format!("model.safetensors: {e}")))?;
        let model = Encoder::load_parts(&read.tensors, read.on_disk, &config)
            .map_err(|e| load_error(dir, format!("model.safetensors: {e}")))?;
        drop(read.tensors);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let pool = |threads: usize, name: &'static str| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("{name}-{i}"))
                .build()
                .map_err(|e| load_error(dir, format!("cannot start the embedding threads: {e}")))
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Embedder {
            model,
            batches: pool(cores, "hearth-embed")?,
            single: pool(1, "hearth-embed-query")?,
            tokenizer,
            pooling,
            pad_id: config.pad_token_id as u32,
            dim: config.hidden_size,
            id: format!("{name}/{}/{weights_len}", config.hidden_size),
        })
    }

    /// The model `settings` chose (an error if it does not load: it was asked for),
    /// else the default model from the cache, or `None` when it is not there.
    pub fn load_default(settings: &EmbedderSettings) -> Result<Option<Embedder>, MemoryError> {
        if let Some(dir) = &settings.chosen {
            return Self::load(dir).map(Some);
        }
        match settings.model_dir() {
            Some(dir) if dir.join("model.safetensors").is_file() => Self::load(&dir).map(Some),
            _ => Ok(None),
        }
    }

    /// Names the model and its shape; a change of id means stored vectors are stale.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Length of every vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One unit-length vector per text, in order. Texts are tokenized together, then
    /// embedded in batches of similar length (see [`BATCH_TOKENS`]).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, MemoryError> {
        let fail = |batch: usize| {
            move |e: Box<dyn std::error::Error + Send + Sync>| MemoryError::Embed {
                batch,
                reason: e.to_string(),
            }
        };
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(fail(texts.len()))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        // Enough batches to keep every thread busy: a few texts are split too.
        let threads = self.batches.current_num_threads().max(1);
        let total_tokens: usize = encodings.iter().map(Encoding::len).sum();
        let most_texts = BATCH_TEXTS.min(texts.len().div_ceil(threads)).max(1);
        let most_tokens = BATCH_TOKENS.min(total_tokens.div_ceil(threads));
        let mut groups: Vec<&[usize]> = Vec::new();
        let mut start = 0;
        while start < order.len() {
            // Ascending order: the item just added is the batch's widest.
            let mut end = start + 1;
            while end < order.len()
                && end - start < most_texts
                && (end - start + 1) * encodings[order[end]].len() <= most_tokens
            {
                end += 1;
            }
            groups.push(&order[start..end]);
            start = end;
        }
        let run = |group: &[usize]| {
            let batch: Vec<&Encoding> = group.iter().map(|&i| &encodings[i]).collect();
            self.embed_batch(&batch).map_err(fail(batch.len()))
        };
        let results: Vec<Result<Vec<Vec<f32>>, MemoryError>> = if groups.len() == 1 {
            self.single.install(|| vec![run(groups[0])])
        } else {
            use rayon::prelude::*;
            self.batches
                .install(|| groups.par_iter().map(|group| run(group)).collect())
        };
        let mut out = vec![Vec::new(); texts.len()];
        for (group, vectors) in groups.iter().zip(results) {
            for (&i, vector) in group.iter().zip(vectors?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed_batch(
        &self,
        encodings: &[&Encoding],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let rows = encodings.len();
        let width = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in encodings {
            let pad = width - encoding.len();
            ids.extend_from_slice(encoding.get_ids());
            ids.extend(std::iter::repeat_n(self.pad_id, pad));
            mask.extend_from_slice(encoding.get_attention_mask());
            mask.extend(std::iter::repeat_n(0u32, pad));
        }
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(ids, (rows, width), device)?;
        let hidden = self.model.forward(&ids, &mask)?;
        let mask = Tensor::from_vec(mask, (rows, width), device)?;
        let pooled = match self.pooling {
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            Pooling::Mean => {
                let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
                summed.broadcast_div(&counts)?
            }
        };
        let norms = pooled
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12, f64::MAX)?;
        let normalised = pooled.broadcast_div(&norms)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

/// Dot product; equals cosine similarity for the unit vectors [`Embedder::embed`] returns.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Vectors as little-endian f32 bytes, for a BLOB column.
pub(crate) fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The inverse of [`to_blob`]; trailing bytes that do not make a whole f32 are ignored.
pub(crate) fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
