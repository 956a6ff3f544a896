//! The `local:` provider: GGUF models run in-process on the CPU through llama.cpp
//! (the `llama-cpp-2` crate), with the chat template from the GGUF, streaming, stop
//! sequences, the model's own context length, and tool calls made reliable for small
//! models by grammar-constrained decoding.
//!
//! Architecture invariant: like every provider, this crate turns a `ModelRequest` into
//! a `ModelResponse` plus `StreamEvent`s and never prints or panics on input (a bad or
//! missing file is an error naming the file and the fix). All llama.cpp work (load,
//! decode) happens on blocking threads, never on the async runtime's; a model file is
//! memory-mapped and loaded once per process.
//!
//! Model ids: `local:<id>` names a file in the model cache ([`models_dir`]) by its stem
//! or a short alias (`local:smollm2`); `local:/path/to/model.gguf` runs any file.

mod bench;
mod catalog;
mod engine;
mod error;
mod generate;
mod grammar;
mod prompt;
mod provider;
mod stops;
mod template;
mod toolcall;

use std::path::Path;
use std::sync::Arc;

use hearth_models::Provider;
use hearth_protocol::ModelRequest;

pub use bench::{peak_rss_mb, BenchReport};
pub use catalog::{
    add, bundled_id, check_gguf, list, models_dir, resolve, CachedModel, BUNDLED_ALIAS,
    BUNDLED_FILE, MODELS_ENV,
};
pub use engine::{default_threads, BUILT_CPU_FEATURES, THREADS_ENV};
pub use error::{LocalError, FETCH_COMMAND};
pub use grammar::OutputShape;
pub use provider::{LocalOptions, LocalProvider};

/// The provider for `local:<name>` with default options.
pub fn build_provider(name: &str) -> Result<Arc<dyn Provider>, LocalError> {
    Ok(Arc::new(LocalProvider::new(name, LocalOptions::default())?))
}

/// `local:smollm2` when the bundled model is in the model cache, else `None`.
pub fn default_model() -> Option<String> {
    bundled_id(&models_dir())
}

/// Why there is no default model, and the command that fixes it.
pub fn default_model_missing_hint() -> String {
    format!(
        "the bundled local model {} is not in {}: fetch it with `{FETCH_COMMAND}`",
        BUNDLED_FILE,
        models_dir().display()
    )
}

/// Benchmarks the model `name` (an id or a path). Blocking: call it off the async
/// runtime's threads.
pub fn bench(name: &str, threads: i32) -> Result<BenchReport, LocalError> {
    let path = resolve(name, &models_dir())?;
    bench::run(name, &path, 512, 128, threads)
}

/// The exact prompt text `request` becomes for the model at `path` (its chat template
/// applied to the system prompt, tools and history), without trimming. Blocking.
pub fn render_prompt(path: &Path, request: &ModelRequest) -> Result<String, LocalError> {
    let loaded = engine::load(path)?;
    prompt::render(&loaded, &template::messages(request))
}

/// The grammar constraining a request offering `tools` (for inspection and tests).
pub fn tool_grammar(tools: &[hearth_protocol::ToolSpec], shape: OutputShape) -> Option<String> {
    grammar::build(tools, shape)
}
