//! What can go wrong running a local model, each error naming the model or file, the
//! cause, and what to do about it.

use std::path::PathBuf;

use hearth_models::ModelError;

/// The command that puts the bundled chat model into the model cache.
pub const FETCH_COMMAND: &str = "scripts/fetch-models.sh chat";

/// A failure of the `local:` provider.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("local model '{name}' is not in the model cache {dir} (it holds: {known}); fetch the bundled model with `{FETCH_COMMAND}`, add a GGUF with `hearth models add PATH`, or pass local:/path/to/model.gguf")]
    NotInCache {
        name: String,
        dir: PathBuf,
        known: String,
    },

    #[error("local model '{name}' names a file in the model cache, but there is none: neither HEARTH_MODELS nor HOME is set; set HEARTH_MODELS to the folder of your GGUF files, or pass local:/path/to/model.gguf")]
    NoModelCache { name: String },

    #[error("{path}: no such GGUF file; {hint}")]
    Missing { path: PathBuf, hint: String },

    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    #[error("{path}: not a GGUF model file ({cause}); local: runs llama.cpp GGUF files only — download the .gguf version of the model")]
    NotGguf { path: PathBuf, cause: String },

    #[error("{path}: llama.cpp could not load the model ({cause}); the file may be truncated or corrupt: download it again (for the bundled model: `{FETCH_COMMAND}`)")]
    Load { path: PathBuf, cause: String },

    #[error("this hearth binary's llama.cpp was built for CPUs with {missing}, which this CPU lacks; rebuild without the GGML_* CPU options (see scripts/setup.d/llama.sh) to run local models here")]
    CpuUnsupported { missing: String },

    #[error("llama.cpp could not start: {cause}")]
    Backend { cause: String },

    #[error("local:{model}: the prompt is {prompt_tokens} tokens but the model's context holds {context} (with {reserve} kept for the answer) even after dropping older messages; shorten the request or the system prompt, or use a model with a longer context")]
    PromptTooLong {
        model: String,
        prompt_tokens: usize,
        context: usize,
        reserve: usize,
    },

    #[error("local:{model}: {what} failed: {cause}")]
    Inference {
        model: String,
        what: &'static str,
        cause: String,
    },
}

impl LocalError {
    pub(crate) fn inference(model: &str, what: &'static str, cause: impl ToString) -> Self {
        LocalError::Inference {
            model: model.to_string(),
            what,
            cause: cause.to_string(),
        }
    }
}

/// Local failures reach the agent loop as non-retryable provider errors carrying the
/// whole message (the `target` is the model id).
pub(crate) fn to_model_error(model: &str, error: LocalError) -> ModelError {
    ModelError::ServerReported {
        target: format!("local:{model}"),
        message: error.to_string(),
        retryable: false,
    }
}
