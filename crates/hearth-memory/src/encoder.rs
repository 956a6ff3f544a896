//! The BERT encoder the embedder runs, on candle tensors: the arithmetic of
//! candle-transformers' `BertModel` (the test suite checks the two agree), with the
//! query, key and value projections in one product and everything between products
//! done by the fused kernels in `kernels.rs`, in place. Matrix products are candle's.

use std::collections::HashMap;

use candle_core::{CpuStorage, DType, InplaceOp1, InplaceOp2, Layout, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct};

use crate::kernels::{self, Norm};
use crate::weights::RowsOnDisk;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One transformer layer's weights. Matrices are `(out, in)`, as stored.
struct Layer {
    /// Query, key and value stacked: `(3 × hidden, hidden)`.
    qkv: Tensor,
    qkv_bias: Vec<f32>,
    attention_out: Tensor,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    up: Tensor,
    up_bias: Vec<f32>,
    down: Tensor,
    down_bias: Vec<f32>,
    output_norm: Norm,
}

/// The word-embedding table: in memory, or left in the model file (see
/// [`crate::weights::read_safetensors_leaving`]): a query reads a few dozen of its 30,522
/// rows, so keeping all of them resident would cost 45 MiB for nothing.
enum WordTable {
    Loaded(Tensor),
    OnDisk(RowsOnDisk),
}

/// The name of the word-embedding table, under the checkpoint's prefix.
pub(crate) const WORD_EMBEDDINGS: &str = "embeddings.word_embeddings.weight";

/// A BERT-family encoder: token ids in, one hidden vector per token out.
pub(crate) struct Encoder {
    word_embeddings: WordTable,
    /// Position embeddings with the token-type-0 embedding added: every input here
    /// is a single segment.
    positions: Vec<f32>,
    max_positions: usize,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    hidden: usize,
    act: HiddenAct,
}

/// Finds the tensors under the prefix a checkpoint uses: none, `bert.` or the
/// config's `model_type` (as candle-transformers does).
struct Weights<'a> {
    tensors: &'a HashMap<String, Tensor>,
    prefix: String,
}

impl Weights<'_> {
    fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        let key = format!("{}{name}", self.prefix);
        self.tensors
            .get(&key)
            .map(|t| t.to_dtype(DType::F32))
            .transpose()?
            .ok_or_else(|| format!("no tensor {key}").into())
    }

    fn values(&self, name: &str) -> Result<Vec<f32>, Error> {
        Ok(self.tensor(name)?.flatten_all()?.to_vec1::<f32>()?)
    }

    /// A vector that must have `len` values: checked here, once, so the kernels can
    /// take every bias and norm to be as wide as its rows.
    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, Error> {
        let values = self.values(name)?;
        if values.len() != len {
            let key = format!("{}{name}", self.prefix);
            return Err(format!("tensor {key} has {} values, not {len}", values.len()).into());
        }
        Ok(values)
    }

    fn norm(&self, name: &str, eps: f64, width: usize) -> Result<Norm, Error> {
        // Old checkpoints name the pair gamma/beta.
        let (gamma, beta) = match self.vector(&format!("{name}.weight"), width) {
            Ok(gamma) => (gamma, self.vector(&format!("{name}.bias"), width)?),
            Err(_) => (
                self.vector(&format!("{name}.gamma"), width)?,
                self.vector(&format!("{name}.beta"), width)?,
            ),
        };
        Ok(Norm {
            gamma,
            beta,
            eps: eps as f32,
        })
    }
}

impl Encoder {
    #[cfg(test)]
    pub(crate) fn load(tensors: &HashMap<String, Tensor>, config: &Config) -> Result<Self, Error> {
        Self::load_parts(tensors, HashMap::new(), config)
    }

    /// As [`Encoder::load`], with the tables `on_disk` holds (the word embeddings) read
    /// from the file as they are needed.
    pub(crate) fn load_parts(
        tensors: &HashMap<String, Tensor>,
        mut on_disk: HashMap<String, RowsOnDisk>,
        config: &Config,
    ) -> Result<Self, Error> {
        let root = WORD_EMBEDDINGS;
        let prefix = [String::new(), "bert.".to_string()]
            .into_iter()
            .chain(config.model_type.iter().map(|t| format!("{t}.")))
            .find(|p| {
                let key = format!("{p}{root}");
                tensors.contains_key(&key) || on_disk.contains_key(&key)
            })
            .ok_or_else(|| format!("no tensor {root}: not a BERT-family model"))?;
        let w = Weights { tensors, prefix };
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(format!("hidden size {hidden} does not split into {heads} heads").into());
        }
        let eps = config.layer_norm_eps;
        let token_type = w.values("embeddings.token_type_embeddings.weight")?;
        let mut positions = w.values("embeddings.position_embeddings.weight")?;
        if token_type.len() < hidden || !positions.len().is_multiple_of(hidden) {
            return Err("embedding tables do not match the hidden size".into());
        }
        for row in positions.chunks_exact_mut(hidden) {
            for (p, t) in row.iter_mut().zip(&token_type[..hidden]) {
                *p += t;
            }
        }
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let at = |name: &str| format!("encoder.layer.{i}.{name}");
                let qkv = Tensor::cat(
                    &[
                        w.tensor(&at("attention.self.query.weight"))?,
                        w.tensor(&at("attention.self.key.weight"))?,
                        w.tensor(&at("attention.self.value.weight"))?,
                    ],
                    0,
                )?;
                let mut qkv_bias = w.vector(&at("attention.self.query.bias"), hidden)?;
                qkv_bias.extend(w.vector(&at("attention.self.key.bias"), hidden)?);
                qkv_bias.extend(w.vector(&at("attention.self.value.bias"), hidden)?);
                Ok(Layer {
                    qkv,
                    qkv_bias,
                    attention_out: w.tensor(&at("attention.output.dense.weight"))?,
                    attention_out_bias: w.vector(&at("attention.output.dense.bias"), hidden)?,
                    attention_norm: w.norm(&at("attention.output.LayerNorm"), eps, hidden)?,
                    up: w.tensor(&at("intermediate.dense.weight"))?,
                    up_bias: w.vector(&at("intermediate.dense.bias"), config.intermediate_size)?,
                    down: w.tensor(&at("output.dense.weight"))?,
                    down_bias: w.vector(&at("output.dense.bias"), hidden)?,
                    output_norm: w.norm(&at("output.LayerNorm"), eps, hidden)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let word_embeddings = match on_disk.remove(&format!("{}{root}", w.prefix)) {
            Some(rows) if rows.width() == hidden => WordTable::OnDisk(rows),
            Some(rows) => {
                let width = rows.width();
                return Err(format!("{root} has rows of {width}, not {hidden}").into());
            }
            None => WordTable::Loaded(w.tensor(root)?),
        };
        Ok(Encoder {
            word_embeddings,
            max_positions: positions.len() / hidden,
            positions,
            embedding_norm: w.norm("embeddings.LayerNorm", eps, hidden)?,
            layers,
            heads,
            hidden,
            act: config.hidden_act,
        })
    }

    /// Hidden states `(rows, width, hidden)` for token ids `(rows, width)`; `keep`
    /// (row-major, `rows × width`) is 1 for real tokens and 0 for padding.
    pub(crate) fn forward(&self, ids: &Tensor, keep: &[u32]) -> Result<Tensor, Error> {
        let (rows, width) = ids.dims2()?;
        if width > self.max_positions {
            return Err(format!("{width} tokens, more than {}", self.max_positions).into());
        }
        let tokens = rows * width;
        let h = self.hidden;
        let mut x = match &self.word_embeddings {
            WordTable::Loaded(table) => table.index_select(&ids.flatten_all()?, 0)?,
            WordTable::OnDisk(table) => {
                let rows = table.gather(&ids.flatten_all()?.to_vec1::<u32>()?)?;
                Tensor::from_vec(rows, (tokens, h), ids.device())?
            }
        };
        x.inplace_op1(&AddRowsNorm {
            add: &self.positions[..width * h],
            norm: &self.embedding_norm,
        })?;
        let head_dim = h / self.heads;
        let softmax = MaskedSoftmax {
            keep,
            width,
            rows_per_sequence: self.heads * width,
            scale: 1.0 / (head_dim as f32).sqrt(),
        };
        for layer in &self.layers {
            let qkv = x.matmul(&layer.qkv.t()?)?;
            qkv.inplace_op1(&WithBias::add(&layer.qkv_bias))?;
            // (rows, width, 3, heads, head_dim) → (3, rows, heads, width, head_dim)
            let qkv = qkv
                .reshape((rows, width, 3, self.heads, head_dim))?
                .permute((2, 0, 3, 1, 4))?
                .contiguous()?;
            let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
            let scores = q.matmul(&k.t()?)?;
            scores.inplace_op1(&softmax)?;
            let context = scores
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((tokens, h))?;
            let attended = context.matmul(&layer.attention_out.t()?)?;
            attended.inplace_op2(
                &x,
                &BiasResidualNorm {
                    bias: &layer.attention_out_bias,
                    norm: &layer.attention_norm,
                },
            )?;
            let up = attended.matmul(&layer.up.t()?)?;
            let up = match self.act {
                HiddenAct::Gelu => {
                    up.inplace_op1(&WithBias::gelu(&layer.up_bias))?;
                    up
                }
                HiddenAct::GeluApproximate => {
                    up.inplace_op1(&WithBias::add(&layer.up_bias))?;
                    up.gelu()?
                }
                HiddenAct::Relu => {
                    up.inplace_op1(&WithBias::add(&layer.up_bias))?;
                    up.relu()?
                }
            };
            let down = up.matmul(&layer.down.t()?)?;
            down.inplace_op2(
                &attended,
                &BiasResidualNorm {
                    bias: &layer.down_bias,
                    norm: &layer.output_norm,
                },
            )?;
            x = down;
        }
        Ok(x.reshape((rows, width, h))?)
    }
}

/// The contiguous f32 values of a tensor's storage, to change in place, checked to be
/// whole rows of `width`.
fn rows_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    width: usize,
    op: &str,
) -> candle_core::Result<&'a mut [f32]> {
    let values = values_mut(storage, layout, op)?;
    if width == 0 || !values.len().is_multiple_of(width) {
        candle_core::bail!("{op}: {} values are not rows of {width}", values.len());
    }
    Ok(values)
}

/// The contiguous f32 values of a tensor's storage, to change in place.
fn values_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a mut [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(values), Some((start, end))) => Ok(&mut values[start..end]),
        _ => candle_core::bail!("{op} wants a contiguous f32 tensor"),
    }
}

fn values<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(values), Some((start, end))) => Ok(&values[start..end]),
        _ => candle_core::bail!("{op} wants a contiguous f32 tensor"),
    }
}

/// A per-row kernel with a bias: `x + bias`, or `gelu(x + bias)`.
struct WithBias<'a> {
    name: &'static str,
    kernel: fn(&mut [f32], &[f32]),
    bias: &'a [f32],
}

impl<'a> WithBias<'a> {
    fn add(bias: &'a [f32]) -> Self {
        WithBias {
            name: "add-bias",
            kernel: kernels::add_bias,
            bias,
        }
    }

    fn gelu(bias: &'a [f32]) -> Self {
        WithBias {
            name: "bias-gelu",
            kernel: kernels::bias_gelu,
            bias,
        }
    }
}

impl InplaceOp1 for WithBias<'_> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let rows = rows_mut(storage, layout, self.bias.len(), self.name)?;
        (self.kernel)(rows, self.bias);
        Ok(())
    }
}

struct AddRowsNorm<'a> {
    add: &'a [f32],
    norm: &'a Norm,
}

impl InplaceOp1 for AddRowsNorm<'_> {
    fn name(&self) -> &'static str {
        "add-rows-norm"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let x = rows_mut(storage, layout, self.norm.gamma.len(), self.name())?;
        kernels::add_rows_norm(x, self.add, self.norm);
        Ok(())
    }
}

struct MaskedSoftmax<'a> {
    keep: &'a [u32],
    width: usize,
    rows_per_sequence: usize,
    scale: f32,
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let scores = rows_mut(storage, layout, self.width, self.name())?;
        if scores.len() != self.keep.len() * self.rows_per_sequence {
            candle_core::bail!("{}: a mask of another shape", self.name());
        }
        kernels::masked_softmax(
            scores,
            self.keep,
            self.width,
            self.rows_per_sequence,
            self.scale,
        );
        Ok(())
    }
}

struct BiasResidualNorm<'a> {
    bias: &'a [f32],
    norm: &'a Norm,
}

impl InplaceOp2 for BiasResidualNorm<'_> {
    fn name(&self) -> &'static str {
        "bias-residual-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &mut CpuStorage,
        layout: &Layout,
        residual: &CpuStorage,
        residual_layout: &Layout,
    ) -> candle_core::Result<()> {
        let x = rows_mut(storage, layout, self.bias.len(), self.name())?;
        let residual = values(residual, residual_layout, self.name())?;
        if residual.len() != x.len() {
            candle_core::bail!("{}: a residual of another shape", self.name());
        }
        kernels::bias_residual_norm(x, residual, self.bias, self.norm);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::bert::{BertModel, Config};
    use tokenizers::{PaddingParams, Tokenizer};

    use super::{Encoder, WORD_EMBEDDINGS};
    use crate::weights::{read_safetensors, read_safetensors_leaving};

    /// The largest difference between this encoder's hidden states and those of
    /// candle-transformers' BertModel for the same padded batch, over real tokens
    /// (padding positions are never pooled).
    fn largest_difference(
        tensors: HashMap<String, Tensor>,
        config: &Config,
        ids: Vec<u32>,
        keep: Vec<u32>,
        width: usize,
    ) -> f32 {
        let ours = Encoder::load(&tensors, config).unwrap();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
        let reference = BertModel::load(vb, config).unwrap();
        let rows = ids.len() / width;
        let ids = Tensor::from_vec(ids, (rows, width), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec(keep.clone(), (rows, width), &Device::Cpu).unwrap();
        let got = ours.forward(&ids, &keep).unwrap().to_vec3::<f32>().unwrap();
        let want = reference
            .forward(&ids, &ids.zeros_like().unwrap(), Some(&mask))
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let mut worst = 0f32;
        for (row, (g, w)) in got.iter().zip(&want).enumerate() {
            for (position, (g, w)) in g.iter().zip(w).enumerate() {
                if keep[row * width + position] == 0 {
                    continue;
                }
                for (a, b) in g.iter().zip(w) {
                    worst = worst.max((a - b).abs());
                }
            }
        }
        worst
    }

    fn tiny_config() -> Config {
        serde_json::from_value(serde_json::json!({
            "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2,
            "num_attention_heads": 4, "intermediate_size": 32, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "max_position_embeddings": 24,
            "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "pad_token_id": 0, "model_type": "bert"
        }))
        .unwrap()
    }

    /// Random weights of the right shapes for `config`, under BERT's names.
    fn random_bert(config: &Config) -> HashMap<String, Tensor> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let mut shapes: Vec<(String, Vec<usize>)> = vec![
            (
                "embeddings.word_embeddings.weight".into(),
                vec![config.vocab_size, h],
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                vec![config.max_position_embeddings, h],
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                vec![config.type_vocab_size, h],
            ),
        ];
        let norm = |shapes: &mut Vec<(String, Vec<usize>)>, name: String| {
            shapes.push((format!("{name}.weight"), vec![h]));
            shapes.push((format!("{name}.bias"), vec![h]));
        };
        norm(&mut shapes, "embeddings.LayerNorm".into());
        for layer in 0..config.num_hidden_layers {
            let at = |name: &str| format!("encoder.layer.{layer}.{name}");
            for (name, out, inp) in [
                ("attention.self.query", h, h),
                ("attention.self.key", h, h),
                ("attention.self.value", h, h),
                ("attention.output.dense", h, h),
                ("intermediate.dense", i, h),
                ("output.dense", h, i),
            ] {
                shapes.push((at(&format!("{name}.weight")), vec![out, inp]));
                shapes.push((at(&format!("{name}.bias")), vec![out]));
            }
            norm(&mut shapes, at("attention.output.LayerNorm"));
            norm(&mut shapes, at("output.LayerNorm"));
        }
        shapes
            .into_iter()
            .map(|(name, shape)| {
                let t = Tensor::randn(0f32, 0.5, shape, &Device::Cpu).unwrap();
                (name, t)
            })
            .collect()
    }

    #[test]
    fn agrees_with_candle_transformers_bert_on_random_weights() {
        let config = tiny_config();
        // Three sequences of width 7; the second and third padded.
        let ids = vec![
            1, 5, 9, 13, 17, 21, 2, //
            1, 30, 31, 2, 0, 0, 0, //
            1, 44, 2, 0, 0, 0, 0,
        ];
        let keep: Vec<u32> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| u32::from(id != 0 || i % 7 == 0))
            .collect();
        let worst = largest_difference(random_bert(&config), &config, ids, keep, 7);
        assert!(worst < 1e-4, "largest difference {worst}");
    }

    #[test]
    fn a_checkpoint_without_a_tensor_is_refused_by_name() {
        let config = tiny_config();
        let mut tensors = random_bert(&config);
        let missing = "encoder.layer.1.attention.self.key.weight";
        tensors.remove(missing);
        let error = Encoder::load(&tensors, &config).err().unwrap().to_string();
        assert!(error.contains(missing), "{error}");
        let error = Encoder::load(&HashMap::new(), &config)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("not a BERT-family model"), "{error}");
    }

    /// An encoder with its word table left in the file computes exactly what one with
    /// the whole model in memory computes.
    fn same_with_the_table_on_disk(
        path: &std::path::Path,
        config: &Config,
        ids: Vec<u32>,
        width: usize,
    ) {
        let keep: Vec<u32> = ids.iter().map(|&id| u32::from(id != 0)).collect();
        let in_memory = Encoder::load(&read_safetensors(path).unwrap(), config).unwrap();
        let read = read_safetensors_leaving(path, &|name| name.ends_with(WORD_EMBEDDINGS)).unwrap();
        assert_eq!(read.on_disk.len(), 1, "the word table is left on disk");
        let on_disk = Encoder::load_parts(&read.tensors, read.on_disk, config).unwrap();
        let rows = ids.len() / width;
        let ids = Tensor::from_vec(ids, (rows, width), &Device::Cpu).unwrap();
        let want = in_memory
            .forward(&ids, &keep)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        let got = on_disk
            .forward(&ids, &keep)
            .unwrap()
            .to_vec3::<f32>()
            .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn the_word_table_on_disk_changes_nothing() {
        let config = tiny_config();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        candle_core::safetensors::save(&random_bert(&config), &path).unwrap();
        same_with_the_table_on_disk(&path, &config, vec![1, 5, 9, 5, 2, 1, 49, 2, 0, 0], 5);
        let read =
            read_safetensors_leaving(&path, &|name| name.ends_with(WORD_EMBEDDINGS)).unwrap();
        let encoder = Encoder::load_parts(&read.tensors, read.on_disk, &config).unwrap();
        let past = Tensor::from_vec(vec![1u32, 50], (1, 2), &Device::Cpu).unwrap();
        let error = encoder.forward(&past, &[1, 1]).err().unwrap().to_string();
        assert!(error.contains("token id 50"), "{error}");
    }

    /// The same on the default model, when it is in the cache.
    #[test]
    fn agrees_with_candle_transformers_bert_on_the_default_model() {
        let Some(dir) = crate::EmbedderSettings::from_vars(|name| std::env::var_os(name))
            .model_dir()
            .filter(|d| d.join("model.safetensors").is_file())
        else {
            let reason = hearth_testkit::model_absent("the embedding model is not in the cache");
            eprintln!("skipped: {reason}");
            return;
        };
        let config: Config =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let tensors = read_safetensors(&dir.join("model.safetensors")).unwrap();
        let ids = vec![101, 7592, 2088, 7592, 102, 101, 1037, 2146, 102, 0];
        same_with_the_table_on_disk(&dir.join("model.safetensors"), &config, ids, 5);
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        tokenizer.with_padding(Some(PaddingParams::default()));
        let texts = vec![
            "Caroline: I went to the LGBTQ support group yesterday and it was so powerful.",
            "Melanie: Nice!",
            "A much longer line, to pad the others: the quick brown fox jumps over the lazy dog twice.",
        ];
        let encodings = tokenizer.encode_batch(texts, true).unwrap();
        let width = encodings[0].len();
        let ids = encodings
            .iter()
            .flat_map(|e| e.get_ids().to_vec())
            .collect();
        let keep = encodings
            .iter()
            .flat_map(|e| e.get_attention_mask().to_vec())
            .collect();
        let worst = largest_difference(tensors, &config, ids, keep, width);
        assert!(worst < 1e-4, "largest difference {worst}");
    }
}
