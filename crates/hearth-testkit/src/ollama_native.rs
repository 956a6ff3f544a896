//! Ollama's native API beside its `/v1` layer, served under
//! [`Personality::Ollama`](crate::Personality) only (any other personality gets the
//! usual 404). Source: Ollama's API docs (`docs/api.md`): `GET /api/version` answers
//! `{"version": …}`; `POST /api/show {"model"}` answers the Modelfile `parameters`
//! (one `name value` a line) and `model_info` with `<arch>.context_length`;
//! `GET /api/ps` lists the loaded models (with `context_length` on newer releases).
//! The scripted model is never loaded and sets no `num_ctx`, so a client must assume
//! Ollama's default window (4,096 tokens since v0.6.7); its Modelfile sets
//! `temperature` and `top_p`, which Ollama's `/v1` ignores unless a request sends them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::handler::no_route;
use crate::personality::Personality;
use crate::server::Shared;

/// The version the scripted Ollama reports.
pub const OLLAMA_VERSION: &str = "0.12.3";

/// The Modelfile `temperature` the scripted model reports in `/api/show`.
pub const OLLAMA_MODEL_TEMPERATURE: f64 = 0.6;

/// The Modelfile `top_p` the scripted model reports in `/api/show`.
pub const OLLAMA_MODEL_TOP_P: f64 = 0.9;

/// The context length the scripted model reports in `model_info` (what it was
/// trained for, not what Ollama gives it).
pub const OLLAMA_MODEL_CONTEXT_LENGTH: u32 = 131_072;

/// `GET /api/version`.
pub(crate) async fn version(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    record(&shared, &uri);
    if shared.personality != Personality::Ollama {
        return no_route(Method::GET, uri).await;
    }
    axum::Json(json!({"version": OLLAMA_VERSION})).into_response()
}

/// `POST /api/show`: every model name is known except an empty one.
pub(crate) async fn show(State(shared): State<Arc<Shared>>, uri: Uri, body: Bytes) -> Response {
    record(&shared, &uri);
    if shared.personality != Personality::Ollama {
        return no_route(Method::POST, uri).await;
    }
    let model = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["model"].as_str().map(str::to_string))
        .unwrap_or_default();
    if model.is_empty() {
        let error = json!({"error": "model is required"});
        return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    axum::Json(json!({
        "modelfile": format!("FROM {model}\nPARAMETER stop \"<|eot_id|>\"\nPARAMETER temperature {OLLAMA_MODEL_TEMPERATURE}\nPARAMETER top_p {OLLAMA_MODEL_TOP_P}\n"),
        "parameters": format!(
            "stop                           \"<|eot_id|>\"\ntemperature                    {OLLAMA_MODEL_TEMPERATURE}\ntop_p                          {OLLAMA_MODEL_TOP_P}"
        ),
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "llama", "parameter_size": "8.0B", "quantization_level": "Q4_K_M"},
        "model_info": {
            "general.architecture": "llama",
            "general.parameter_count": 8_030_261_248_u64,
            "llama.context_length": OLLAMA_MODEL_CONTEXT_LENGTH,
            "llama.embedding_length": 4096,
        },
        "capabilities": ["completion", "tools"],
    }))
    .into_response()
}

/// `GET /api/ps`: nothing is loaded.
pub(crate) async fn ps(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    record(&shared, &uri);
    if shared.personality != Personality::Ollama {
        return no_route(Method::GET, uri).await;
    }
    axum::Json(json!({"models": []})).into_response()
}

/// Notes a native API request (every personality: a test can check none was sent).
fn record(shared: &Shared, uri: &Uri) {
    shared
        .native_calls
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(uri.path().to_string());
}
