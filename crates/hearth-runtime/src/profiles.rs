//! The [`ModelProfile`] of a model: its window, output cap and prices, from
//! `config.toml` (`[models."provider:NAME"]`), which wins over the built-in model table
//! (cloud models, by the provider's base URL), which wins over what the model file
//! says (a local GGUF's training context) and the defaults. An Ollama server's window
//! (remembered from `Resolved::ollama_server`) wins over the table: Ollama drops what
//! does not fit it, so compaction must keep requests within it; only config wins over it.

use hearth_models::{model_table, CachedInputCounting, ModelProfile, ModelRef};

use crate::config::Config;
use crate::Environment;

/// The profile of `model` under `config`. A local model's GGUF is read for its window
/// (its header only); one that cannot be read gets the default window.
pub fn model_profile(config: &Config, env: &Environment, model: &ModelRef) -> ModelProfile {
    let overrides = config
        .model_profiles
        .get(&model.to_string())
        .copied()
        .unwrap_or_default();
    let (table, known_window, cached_input) = match model.provider.as_str() {
        "local" => (
            None,
            hearth_local::context_window(&model.model, env.model_cache.as_deref()),
            CachedInputCounting::PartOfInput,
        ),
        "anthropic" => (
            model_table::lookup(&config.anthropic.base_url, &model.model),
            None,
            CachedInputCounting::Separate,
        ),
        _ => (
            model_table::lookup(&config.openai.base_url, &model.model),
            None,
            CachedInputCounting::PartOfInput,
        ),
    };
    let mut profile = ModelProfile::resolve(&overrides, table.as_ref(), known_window, cached_input);
    if overrides.context_window.is_none() {
        if let Some(ollama) = crate::providers::remembered_ollama_server(config, env, model) {
            profile.context_window = u64::from(ollama.context_length);
        }
    }
    profile
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn environment() -> Environment {
        Environment::from_vars(|_| None)
    }

    #[test]
    fn config_wins_over_the_table_for_a_well_known_model() {
        let model = ModelRef::parse("anthropic:claude-sonnet-4-5").unwrap();
        let bare = Config::parse("", Path::new("c.toml"), &|_| None).unwrap();
        let from_table = model_profile(&bare, &environment(), &model);
        assert_eq!(from_table.prices.input_usd_per_mtok, Some(3.0));
        assert_eq!(from_table.cached_input, CachedInputCounting::Separate);
        let configured = Config::parse(
            "[models.\"anthropic:claude-sonnet-4-5\"]\ncontext_window = 16000\ninput_usd_per_mtok = 1.5\n",
            Path::new("c.toml"),
            &|_| None,
        )
        .unwrap();
        let profile = model_profile(&configured, &environment(), &model);
        assert_eq!(profile.context_window, 16_000);
        assert_eq!(profile.prices.input_usd_per_mtok, Some(1.5));
        assert_eq!(
            profile.prices.output_usd_per_mtok,
            from_table.prices.output_usd_per_mtok
        );
    }

    #[test]
    fn a_model_on_an_unknown_server_costs_nothing_and_gets_the_default_window() {
        let config = Config::parse(
            "[providers.openai]\nbase_url = \"http://127.0.0.1:8080/v1\"\n",
            Path::new("c.toml"),
            &|_| None,
        )
        .unwrap();
        let model = ModelRef::parse("openai:my-model").unwrap();
        assert_eq!(
            model_profile(&config, &environment(), &model),
            ModelProfile::default()
        );
    }
}
