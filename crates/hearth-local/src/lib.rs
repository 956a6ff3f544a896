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
//! Model ids: `local:<id>` names a file in the model cache (a folder the caller passes,
//! see [`hearth_protocol::model_cache_dir`]) by its stem
//! or a short alias (`local:smollm2`); `local:/path/to/model.gguf` runs any file.

mod bench;
mod catalog;
mod engine;
mod error;
mod generate;
mod gguf_header;
mod grammar;
mod prefix_state;
mod prompt;
mod provider;
mod repetition;
mod stops;
mod template;
mod toolcall;

use std::path::Path;
use std::sync::Arc;

use hearth_models::Provider;
use hearth_protocol::ModelRequest;

pub use bench::{peak_rss_mb, BenchReport};
pub use catalog::{
    add, bundled_id, check_gguf, list, resolve, CachedModel, BUNDLED_ALIAS, BUNDLED_FILE,
    MODELS_ENV,
};
pub use engine::{default_threads, BUILT_CPU_FEATURES, THREADS_ENV};
pub use error::{LocalError, FETCH_COMMAND};
pub use grammar::OutputShape;
pub use prefix_state::PrefixCache;
pub use provider::{LocalOptions, LocalProvider};

/// The provider for `local:<name>`, an id in the model cache `models_dir` or a path.
pub fn build_provider(
    name: &str,
    models_dir: Option<&Path>,
    options: LocalOptions,
) -> Result<Arc<dyn Provider>, LocalError> {
    Ok(Arc::new(LocalProvider::new(name, models_dir, options)?))
}

/// The training context length of the GGUF `local:<name>` names (read from its header,
/// without loading it); `None` when the file is missing or does not say.
pub fn context_window(name: &str, models_dir: Option<&Path>) -> Option<u64> {
    gguf_header::context_length(&catalog::resolve(name, models_dir).ok()?)
}

/// The parameter count of the GGUF `local:<name>` names (from its header's tensor
/// list, without loading it); `None` when the file is missing or unreadable.
pub fn parameter_count(name: &str, models_dir: Option<&Path>) -> Option<u64> {
    gguf_header::parameter_count(&catalog::resolve(name, models_dir).ok()?)
}

/// `local:smollm2` when the bundled model is in the model cache, else `None`.
pub fn default_model(models_dir: Option<&Path>) -> Option<String> {
    bundled_id(models_dir?)
}

/// Why there is no default model, and the command that fixes it.
pub fn default_model_missing_hint(models_dir: Option<&Path>) -> String {
    match models_dir {
        Some(dir) => format!(
            "the bundled local model {BUNDLED_FILE} is not in {}: fetch it with `{FETCH_COMMAND}`",
            dir.display()
        ),
        None => format!(
            "there is no model cache for the bundled local model {BUNDLED_FILE} (neither HEARTH_MODELS nor HOME is set)"
        ),
    }
}

/// Benchmarks the model `name` (an id in `models_dir`, or a path). Blocking: call it
/// off the async runtime's threads.
pub fn bench(
    name: &str,
    models_dir: Option<&Path>,
    threads: i32,
) -> Result<BenchReport, LocalError> {
    let path = resolve(name, models_dir)?;
    bench::run(name, &path, 512, 128, threads)
}

/// The exact prompt text `request` becomes for the model at `path` (its chat template
/// applied to the system prompt, tools and history), without trimming. Blocking.
pub fn render_prompt(path: &Path, request: &ModelRequest) -> Result<String, LocalError> {
    let loaded = engine::load(path)?;
    prompt::render(loaded, &template::messages(request))
}

/// The tokens of the stable prefix of a request with `system` and `tools` to the model
/// at `path`: the system message with the tool instructions, as its chat template
/// renders it, up to where the conversation starts (what the provider keeps in the KV
/// cache and saves). Loads the vocabulary and template only, not the weights. Blocking.
pub fn prefix_tokens(
    path: &Path,
    system: &str,
    tools: &[hearth_protocol::ToolSpec],
) -> Result<usize, LocalError> {
    let loaded = engine::load_vocab_only(path)?;
    let system = template::ChatMessage {
        role: "system",
        content: template::system_text(system, tools),
    };
    let user = template::ChatMessage {
        role: "user",
        content: "hello".to_string(),
    };
    let alone = generate::tokenize(
        &loaded,
        &prompt::render(&loaded, std::slice::from_ref(&system))?,
    );
    let with_user = generate::tokenize(&loaded, &prompt::render(&loaded, &[system, user])?);
    Ok(alone
        .iter()
        .zip(&with_user)
        .take_while(|(a, b)| a == b)
        .count())
}

/// The grammar constraining a request offering `tools` (for inspection and tests).
pub fn tool_grammar(tools: &[hearth_protocol::ToolSpec], shape: OutputShape) -> Option<String> {
    grammar::build(tools, shape)
}
