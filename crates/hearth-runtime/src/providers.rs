//! Builds the provider a model id names: HTTP providers from their config, `local:`
//! in-process; picks the default model when none is configured; and finds an Ollama
//! server behind an `openai:` base URL (its context window and the model's own
//! sampling settings), remembered a day in `$HEARTH_HOME/cache`.

use std::sync::Arc;

use hearth_agent::Agent;
use hearth_models::ollama::{self, OllamaInfo};
use hearth_models::{
    build_provider, ModelRef, Provider, ProviderSettings, DEFAULT_OPENAI_BASE_URL,
};
use hearth_secrets::{secret_reference, SecretStore};

use crate::config::Config;
use crate::{Environment, RuntimeError, Warning};

/// The provider for `model`; an `api_key = "secret:NAME"` is resolved here, at the
/// boundary. Local models come from `env`'s model cache with its thread count. An
/// `openai:` model on an Ollama server that [`ollama_server`] has found gets the
/// model's own temperature and top_p where config sets none (Ollama's `/v1` would
/// sample at 1.0).
pub fn build(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
    secrets: &SecretStore,
) -> Result<Arc<dyn Provider>, RuntimeError> {
    match http_settings(config, env, model, secrets)? {
        Some(settings) => Ok(build_provider(settings)?),
        None => Ok(hearth_local::build_provider(
            &model.model,
            env.model_cache.as_deref(),
            env.local_options(),
        )?),
    }
}

/// What the HTTP provider for `model` is built from ([`build`]); `None` for a `local:`
/// model, which runs in-process.
pub(crate) fn http_settings(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
    secrets: &SecretStore,
) -> Result<Option<ProviderSettings>, RuntimeError> {
    match model.provider.as_str() {
        "local" => Ok(None),
        _ => {
            let mut settings = config.provider_for(model)?;
            if let Some(info) = remembered_ollama_server(config, env, model) {
                let configured = settings
                    .model_sampling
                    .get(&model.model)
                    .copied()
                    .unwrap_or_default();
                let sampling = configured.or(info.sampling);
                if !sampling.is_empty() {
                    settings
                        .model_sampling
                        .insert(model.model.clone(), sampling);
                }
            }
            if let Some(name) = settings.api_key.as_deref().and_then(secret_reference) {
                let value = secrets.get(name).map_err(|source| RuntimeError::Secret {
                    what: format!("the api_key of provider '{}'", model.provider),
                    source,
                })?;
                settings.api_key = Some(value);
            }
            Ok(Some(settings))
        }
    }
}

/// The base URL an `openai:` model may find Ollama behind; `None` for other providers
/// and hosted APIs (never probed).
fn probed_base_url<'a>(config: &'a Config, model: &ModelRef) -> Option<&'a str> {
    if model.provider != "openai" {
        return None;
    }
    let base_url = config.openai.base_url.trim_end_matches('/');
    let hosted = base_url == DEFAULT_OPENAI_BASE_URL || ollama::is_hosted_api(base_url);
    (!hosted).then_some(base_url)
}

/// The Ollama server behind an `openai:` model's base URL and what it says of the
/// model (its window: the model's context window for anything that must fit a request
/// into it; its sampling); `None` for other providers, hosted APIs and servers that
/// are not Ollama. The answer is remembered a day in `$HEARTH_HOME/cache`, so only the
/// first run of a day sends `/api/version`; call it before [`build`] (through
/// `Resolved::agent`) so the provider gets the model's sampling.
pub async fn ollama_server(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
) -> Option<OllamaInfo> {
    let base_url = probed_base_url(config, model)?;
    match env.ollama_probe_cache() {
        Some(cache) => cache.detect(base_url, &model.model).await,
        None => ollama::detect(base_url, &model.model).await,
    }
    .into_ollama()
}

/// Like [`ollama_server`], but probes afresh (and remembers the new answer): for
/// `hearth doctor`, which must report the server as it is now.
pub async fn ollama_server_now(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
) -> Option<OllamaInfo> {
    let base_url = probed_base_url(config, model)?;
    match env.ollama_probe_cache() {
        Some(cache) => cache.refresh(base_url, &model.model).await,
        None => ollama::detect(base_url, &model.model).await,
    }
    .into_ollama()
}

/// What [`ollama_server`] remembered for `model`, without probing (a read of a small
/// file).
pub(crate) fn remembered_ollama_server(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
) -> Option<OllamaInfo> {
    let base_url = probed_base_url(config, model)?;
    env.ollama_probe_cache()?
        .remembered(base_url, &model.model)?
        .into_ollama()
}

/// Before a turn's first request: a warning when the model runs on an Ollama server
/// whose window is smaller than the request (estimated at 4 characters a token: system
/// prompt, tool schemas, the stored history and the prompt) or than a turn with tool
/// results needs. Ollama would drop the oldest messages silently.
pub async fn window_warning(
    info: &OllamaInfo,
    model: &ModelRef,
    agent: &Agent,
    session_id: &str,
    prompt: &str,
) -> Option<Warning> {
    let history_chars: usize = agent
        .store
        .messages(session_id)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|message| message.is_replayed())
        .map(|message| serde_json::to_string(message).map_or(0, |json| json.len()))
        .sum();
    let tools_chars = serde_json::to_string(&agent.tools.specs()).map_or(0, |json| json.len());
    let request_chars = agent.system_prompt.len() + tools_chars + history_chars + prompt.len();
    ollama::window_warning(info, &model.model, ollama::estimate_tokens(request_chars))
        .map(Warning::ContextWindow)
}

/// The model to use when neither a flag, the environment nor config.toml names one: the
/// bundled local model (`local:smollm2`) when its file is in the model cache.
pub fn default_model(env: &Environment) -> Option<String> {
    hearth_local::default_model(env.model_cache.as_deref())
}
