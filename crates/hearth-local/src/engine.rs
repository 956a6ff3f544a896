//! The llama.cpp side: the process-wide backend, models memory-mapped and loaded once
//! per process (keyed by canonical path), and the CPU check that keeps a binary built
//! for newer CPUs from crashing on older ones.
//!
//! Everything here blocks; callers run it off the async runtime's threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatTemplate, LlamaModel};

use crate::catalog;
use crate::error::LocalError;
use crate::generate::KvSlot;

/// The x86 extensions the vendored llama.cpp was compiled to require (see build.rs).
pub const BUILT_CPU_FEATURES: &str = env!("HEARTH_LLAMA_CPU_FEATURES");

/// Extensions worth having that this CPU has and the build does not use.
pub fn unused_cpu_features() -> Vec<&'static str> {
    ["avx2", "fma", "f16c"]
        .into_iter()
        .filter(|f| !BUILT_CPU_FEATURES.split(',').any(|b| b == *f) && cpu_has(f))
        .collect()
}

/// Whether this CPU has the x86 extension named like a Rust target feature.
#[cfg(target_arch = "x86_64")]
fn cpu_has(feature: &str) -> bool {
    use std::arch::is_x86_feature_detected as has;
    match feature {
        "sse4.2" => has!("sse4.2"),
        "avx" => has!("avx"),
        "avx2" => has!("avx2"),
        "fma" => has!("fma"),
        "f16c" => has!("f16c"),
        "bmi2" => has!("bmi2"),
        "avxvnni" => has!("avxvnni"),
        "avx512f" => has!("avx512f"),
        "avx512vbmi" => has!("avx512vbmi"),
        "avx512vnni" => has!("avx512vnni"),
        "avx512bf16" => has!("avx512bf16"),
        _ => true,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has(_feature: &str) -> bool {
    true
}

/// Refuses to go on when the build needs an extension this CPU lacks: ggml would die
/// on an illegal instruction at its first call.
pub fn check_cpu() -> Result<(), LocalError> {
    let missing: Vec<&str> = BUILT_CPU_FEATURES
        .split(',')
        .filter(|f| !f.is_empty() && !cpu_has(f))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(LocalError::CpuUnsupported {
            missing: missing.join(", "),
        })
    }
}

/// The llama.cpp backend, initialised once per process (llama.cpp allows only one).
pub fn backend() -> Result<&'static LlamaBackend, LocalError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    check_cpu()?;
    let result = BACKEND.get_or_init(|| {
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        let unused = unused_cpu_features();
        if !unused.is_empty() {
            tracing::warn!(
                unused = unused.join(","),
                "llama.cpp was built without CPU extensions this machine has; local models run \
                 several times slower (rebuild with scripts/setup.d/llama.sh's GGML_* settings)"
            );
        }
        LlamaBackend::init().map_err(|e| e.to_string())
    });
    result.as_ref().map_err(|cause| LocalError::Backend {
        cause: cause.clone(),
    })
}

/// A model loaded into this process, shared by every request that names its file.
/// Loaded models live as long as the process (they are memory-mapped and never
/// unloaded), so each is `'static` and can keep a context between generations.
pub struct LoadedModel {
    pub path: PathBuf,
    pub model: LlamaModel,
    /// The GGUF's chat template, or ChatML when the file has none.
    pub template: LlamaChatTemplate,
    pub template_source: TemplateSource,
    /// The context length the model was trained with.
    pub n_ctx_train: u32,
    /// How long the load took.
    pub load_ms: u64,
    /// The context of the last generation and the tokens its KV cache holds, so the
    /// next one decodes only what differs (see `generate`).
    pub(crate) kv: Mutex<Option<KvSlot>>,
}

/// Where a model's chat template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSource {
    Gguf,
    ChatMlFallback,
}

/// The model at `path`, loaded on first use (memory-mapped) and cached for the life of
/// the process. Concurrent first uses load it once.
pub fn load(path: &Path) -> Result<&'static LoadedModel, LocalError> {
    static MODELS: OnceLock<Mutex<HashMap<PathBuf, &'static LoadedModel>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::NotFound => LocalError::Missing {
            path: path.to_path_buf(),
            hint: format!(
                "fetch the bundled model with `{}`",
                crate::error::FETCH_COMMAND
            ),
        },
        _ => LocalError::Io {
            path: path.to_path_buf(),
            cause,
        },
    })?;
    let models = MODELS.get_or_init(Default::default);
    // Held across the load so two requests never map the same file twice.
    let mut models = models
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(model) = models.get(&key) {
        return Ok(model);
    }
    // Never freed: a process keeps its models (and their contexts) to the end.
    let loaded: &'static LoadedModel = Box::leak(Box::new(load_uncached(&key)?));
    models.insert(key, loaded);
    Ok(loaded)
}

fn load_uncached(path: &Path) -> Result<LoadedModel, LocalError> {
    load_with(path, false)
}

/// The model at `path` with its vocabulary and chat template but no weights (for
/// counting a prompt's tokens), not cached: freed when dropped.
pub fn load_vocab_only(path: &Path) -> Result<LoadedModel, LocalError> {
    load_with(path, true)
}

fn load_with(path: &Path, vocab_only: bool) -> Result<LoadedModel, LocalError> {
    catalog::check_gguf(path)?;
    let backend = backend()?;
    let started = Instant::now();
    let params = LlamaModelParams::default()
        .with_use_mmap(true)
        .with_vocab_only(vocab_only);
    let model =
        LlamaModel::load_from_file(backend, path, &params).map_err(|e| LocalError::Load {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
    let (template, template_source) = match model.chat_template(None) {
        Ok(template) => (template, TemplateSource::Gguf),
        Err(_) => (chatml()?, TemplateSource::ChatMlFallback),
    };
    Ok(LoadedModel {
        path: path.to_path_buf(),
        n_ctx_train: model.n_ctx_train(),
        model,
        template,
        template_source,
        load_ms: started.elapsed().as_millis() as u64,
        kv: Mutex::new(None),
    })
}

fn chatml() -> Result<LlamaChatTemplate, LocalError> {
    LlamaChatTemplate::new("chatml").map_err(|e| LocalError::Backend {
        cause: e.to_string(),
    })
}

/// The environment variable that sets the decoding threads (read by the caller, which
/// passes the value in [`crate::LocalOptions::threads`]).
pub const THREADS_ENV: &str = "HEARTH_LOCAL_THREADS";

/// The default decoding threads: one fewer than the available cores (at least 1, at
/// most 8). ggml's threads wait for each other at every layer, so when every core is
/// taken one busy core stalls all of them: on a loaded 2-core machine 2 threads
/// measured 0.9 tokens/s against 71 for 1 thread.
pub fn default_threads() -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as i32);
    (cores - 1).clamp(1, 8)
}
