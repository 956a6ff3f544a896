//! Builds the provider a model id names: HTTP providers from their config, `local:`
//! in-process; and picks the default model when none is configured.

use std::sync::Arc;

use anyhow::{bail, Result};
use hearth_models::{build_provider, ModelRef, Provider};

use crate::config::Config;

/// The provider for `model`.
pub fn build(config: &Config, model: &ModelRef) -> Result<Arc<dyn Provider>> {
    match model.provider.as_str() {
        "local" => bail!("local models ({model}) are not built into this binary yet"),
        _ => Ok(build_provider(config.provider_for(model)?)?),
    }
}

/// The model to use when neither a flag, the environment nor config.toml names one.
pub fn default_model() -> Option<String> {
    None
}
