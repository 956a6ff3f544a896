//! Builds the provider a model id names: HTTP providers from their config, `local:`
//! in-process; and picks the default model when none is configured.

use std::sync::Arc;

use anyhow::{Context, Result};
use hearth_models::{build_provider, ModelRef, Provider};
use hearth_secrets::{secret_reference, SecretStore};

use crate::config::Config;

/// The provider for `model`; an `api_key = "secret:NAME"` is resolved here, at the boundary.
pub fn build(
    config: &Config,
    model: &ModelRef,
    secrets: &SecretStore,
) -> Result<Arc<dyn Provider>> {
    match model.provider.as_str() {
        "local" => Ok(hearth_local::build_provider(&model.model)?),
        _ => {
            let mut settings = config.provider_for(model)?;
            if let Some(name) = settings.api_key.as_deref().and_then(secret_reference) {
                let value = secrets
                    .get(name)
                    .with_context(|| format!("the api_key of provider '{}'", model.provider))?;
                settings.api_key = Some(value);
            }
            Ok(build_provider(settings)?)
        }
    }
}

/// The model to use when neither a flag, the environment nor config.toml names one: the
/// bundled local model (`local:smollm2`) when its file is in the model cache.
pub fn default_model() -> Option<String> {
    hearth_local::default_model()
}
