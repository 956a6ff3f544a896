//! Builds the provider a model id names: HTTP providers from their config, `local:`
//! in-process; picks the default model when none is configured; and finds the context
//! window of an Ollama server behind an `openai:` base URL.

use std::sync::Arc;

use hearth_agent::Agent;
use hearth_models::ollama::{self, OllamaInfo};
use hearth_models::{build_provider, ModelRef, Provider, DEFAULT_OPENAI_BASE_URL};
use hearth_secrets::{secret_reference, SecretStore};

use crate::config::Config;
use crate::{Environment, RuntimeError, Warning};

/// The provider for `model`; an `api_key = "secret:NAME"` is resolved here, at the
/// boundary. Local models come from `env`'s model cache with its thread count.
pub fn build(
    config: &Config,
    env: &Environment,
    model: &ModelRef,
    secrets: &SecretStore,
) -> Result<Arc<dyn Provider>, RuntimeError> {
    match model.provider.as_str() {
        "local" => Ok(hearth_local::build_provider(
            &model.model,
            env.model_cache.as_deref(),
            env.local_options(),
        )?),
        _ => {
            let mut settings = config.provider_for(model)?;
            if let Some(name) = settings.api_key.as_deref().and_then(secret_reference) {
                let value = secrets.get(name).map_err(|source| RuntimeError::Secret {
                    what: format!("the api_key of provider '{}'", model.provider),
                    source,
                })?;
                settings.api_key = Some(value);
            }
            Ok(build_provider(settings)?)
        }
    }
}

/// Hosted OpenAI-compatible APIs that are never Ollama: not probed.
const HOSTED_OPENAI_HOSTS: &[&str] = &["api.openai.com", "openrouter.ai", "api.deepseek.com"];

/// The Ollama server behind an `openai:` model's base URL and the window it gives the
/// model; `None` for other providers, hosted APIs and servers that are not Ollama.
/// This is the model's context window for anything that must fit a request into it.
pub async fn ollama_window(config: &Config, model: &ModelRef) -> Option<OllamaInfo> {
    if model.provider != "openai" {
        return None;
    }
    let base_url = config.openai.base_url.trim_end_matches('/');
    let hosted = base_url == DEFAULT_OPENAI_BASE_URL
        || url_host(base_url).is_some_and(|host| {
            HOSTED_OPENAI_HOSTS
                .iter()
                .any(|hosted| host == *hosted || host.ends_with(&format!(".{hosted}")))
        });
    if hosted {
        return None;
    }
    ollama::probe(base_url, &model.model).await
}

/// The host of a URL, lowercased (no port).
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    Some(host.to_ascii_lowercase())
}

/// Before a turn's first request: a warning when the model runs on an Ollama server
/// whose window is smaller than the request (estimated at 4 characters a token: system
/// prompt, tool schemas, the stored history and the prompt) or than a turn with tool
/// results needs. Ollama would drop the oldest messages silently.
pub async fn window_warning(
    config: &Config,
    model: &ModelRef,
    agent: &Agent,
    session_id: &str,
    prompt: &str,
) -> Option<Warning> {
    let info = ollama_window(config, model).await?;
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
    ollama::window_warning(&info, &model.model, ollama::estimate_tokens(request_chars))
        .map(Warning::ContextWindow)
}

/// The model to use when neither a flag, the environment nor config.toml names one: the
/// bundled local model (`local:smollm2`) when its file is in the model cache.
pub fn default_model(env: &Environment) -> Option<String> {
    hearth_local::default_model(env.model_cache.as_deref())
}
