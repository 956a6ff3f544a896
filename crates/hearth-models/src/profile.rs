//! [`ModelProfile`]: what the loop knows of one model before it calls it: its context
//! window, its output cap and its prices, resolved once per model (config wins over
//! the built-in [`crate::model_table`], which wins over [`ModelProfile::default`]), and
//! the cost of a call's [`Usage`] at those prices.

use hearth_protocol::Usage;

/// The window assumed for a model nothing describes: small enough to be safe on any
/// model Hearth can talk to.
pub const DEFAULT_CONTEXT_WINDOW: u64 = 8_192;

/// Prices in USD per million tokens. `None` is "not known": such tokens cost 0 in the
/// ledger (a local model, a server the table does not know).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub input_usd_per_mtok: Option<f64>,
    pub output_usd_per_mtok: Option<f64>,
    /// Input served from the provider's prompt cache; the input price when unknown.
    pub cached_input_usd_per_mtok: Option<f64>,
    /// Input written to the provider's prompt cache; the input price when unknown.
    pub cache_write_usd_per_mtok: Option<f64>,
}

impl Prices {
    /// Whether any price is known (a model with none is counted in tokens only).
    pub fn is_known(&self) -> bool {
        self.input_usd_per_mtok.is_some() || self.output_usd_per_mtok.is_some()
    }
}

/// How a provider's usage counts cached input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CachedInputCounting {
    /// `input_tokens` includes `cached_tokens` (OpenAI's `prompt_tokens`).
    #[default]
    PartOfInput,
    /// `input_tokens` is only the uncached rest (Anthropic's Messages API).
    Separate,
}

/// A model's window, output cap and prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelProfile {
    /// Tokens the model can attend to: request and answer together.
    pub context_window: u64,
    /// The most output tokens to ask for; `None` leaves `[limits] max_output_tokens`.
    pub max_output_tokens: Option<u32>,
    pub prices: Prices,
    pub cached_input: CachedInputCounting,
}

impl Default for ModelProfile {
    fn default() -> Self {
        ModelProfile {
            context_window: DEFAULT_CONTEXT_WINDOW,
            max_output_tokens: None,
            prices: Prices::default(),
            cached_input: CachedInputCounting::PartOfInput,
        }
    }
}

/// Config's settings of one model (`[models."provider:NAME"]`): each one given wins.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProfileOverrides {
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u32>,
    pub input_usd_per_mtok: Option<f64>,
    pub output_usd_per_mtok: Option<f64>,
    pub cached_input_usd_per_mtok: Option<f64>,
}

impl ModelProfile {
    /// The profile of a model: `overrides` (config) first, then `table` (the built-in
    /// table's entry), then `known_window` (what the model file or server says), then
    /// the defaults.
    pub fn resolve(
        overrides: &ProfileOverrides,
        table: Option<&crate::model_table::ModelInfo>,
        known_window: Option<u64>,
        cached_input: CachedInputCounting,
    ) -> ModelProfile {
        let from_table =
            |pick: fn(&crate::model_table::ModelInfo) -> Option<f64>| table.and_then(pick);
        ModelProfile {
            context_window: overrides
                .context_window
                .or(table.and_then(|info| info.context_window))
                .or(known_window)
                .unwrap_or(DEFAULT_CONTEXT_WINDOW),
            max_output_tokens: overrides.max_output_tokens,
            prices: Prices {
                input_usd_per_mtok: overrides
                    .input_usd_per_mtok
                    .or(from_table(|info| info.input_usd_per_mtok)),
                output_usd_per_mtok: overrides
                    .output_usd_per_mtok
                    .or(from_table(|info| info.output_usd_per_mtok)),
                cached_input_usd_per_mtok: overrides
                    .cached_input_usd_per_mtok
                    .or(from_table(|info| info.cached_input_usd_per_mtok)),
                cache_write_usd_per_mtok: from_table(|info| info.cache_write_usd_per_mtok),
            },
            cached_input,
        }
    }

    /// What a call with `usage` cost in USD: uncached input, cached input, cache writes
    /// and output, each at its price (an unknown price counts 0; an unknown cached or
    /// cache-write price is the input price).
    pub fn cost_usd(&self, usage: &Usage) -> f64 {
        let prices = &self.prices;
        let input = prices.input_usd_per_mtok.unwrap_or(0.0);
        let cached = prices.cached_input_usd_per_mtok.unwrap_or(input);
        let write = prices.cache_write_usd_per_mtok.unwrap_or(input);
        let output = prices.output_usd_per_mtok.unwrap_or(0.0);
        let uncached_input = match self.cached_input {
            CachedInputCounting::PartOfInput => usage
                .input_tokens
                .saturating_sub(usage.cached_tokens)
                .saturating_sub(usage.cache_creation_tokens),
            CachedInputCounting::Separate => usage.input_tokens,
        };
        (uncached_input as f64 * input
            + usage.cached_tokens as f64 * cached
            + usage.cache_creation_tokens as f64 * write
            + usage.output_tokens as f64 * output)
            / 1_000_000.0
    }

    /// The cost of sending `input_tokens` uncached input: a request's price before it
    /// is made (what budgets are checked against).
    pub fn input_cost_usd(&self, input_tokens: u64) -> f64 {
        input_tokens as f64 * self.prices.input_usd_per_mtok.unwrap_or(0.0) / 1_000_000.0
    }
}

/// Tokens in `chars` characters of a request, estimated at 4 characters a token (the
/// provider's reported usage corrects it after the call).
pub fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_table::ModelInfo;

    fn table_entry() -> ModelInfo {
        ModelInfo {
            provider: "openai".into(),
            id: "gpt-test".into(),
            context_window: Some(128_000),
            input_usd_per_mtok: Some(2.0),
            cached_input_usd_per_mtok: Some(0.5),
            cache_write_usd_per_mtok: None,
            output_usd_per_mtok: Some(8.0),
        }
    }

    #[test]
    fn config_wins_over_the_table_which_wins_over_defaults() {
        let entry = table_entry();
        let overrides = ProfileOverrides {
            context_window: Some(16_000),
            output_usd_per_mtok: Some(10.0),
            ..Default::default()
        };
        let profile = ModelProfile::resolve(
            &overrides,
            Some(&entry),
            Some(4096),
            CachedInputCounting::PartOfInput,
        );
        assert_eq!(profile.context_window, 16_000);
        assert_eq!(profile.prices.output_usd_per_mtok, Some(10.0));
        assert_eq!(profile.prices.input_usd_per_mtok, Some(2.0));
        let bare = ModelProfile::resolve(
            &ProfileOverrides::default(),
            None,
            None,
            CachedInputCounting::PartOfInput,
        );
        assert_eq!(bare, ModelProfile::default());
        let local = ModelProfile::resolve(
            &ProfileOverrides::default(),
            None,
            Some(2048),
            CachedInputCounting::PartOfInput,
        );
        assert_eq!(local.context_window, 2048);
        assert_eq!(local.cost_usd(&usage(1000, 100, 0, 0)), 0.0);
    }

    fn usage(input: u64, output: u64, cached: u64, written: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cached_tokens: cached,
            cache_creation_tokens: written,
        }
    }

    #[test]
    fn cost_counts_cached_input_as_each_provider_reports_it() {
        let entry = table_entry();
        let openai = ModelProfile::resolve(
            &ProfileOverrides::default(),
            Some(&entry),
            None,
            CachedInputCounting::PartOfInput,
        );
        // 600 uncached at 2, 400 cached at 0.5, 100 out at 8 (per million).
        let cost = openai.cost_usd(&usage(1000, 100, 400, 0));
        assert!((cost - (600.0 * 2.0 + 400.0 * 0.5 + 100.0 * 8.0) / 1e6).abs() < 1e-12);
        let anthropic = ModelProfile {
            cached_input: CachedInputCounting::Separate,
            ..openai
        };
        let cost = anthropic.cost_usd(&usage(1000, 100, 400, 50));
        let expected = (1000.0 * 2.0 + 400.0 * 0.5 + 50.0 * 2.0 + 100.0 * 8.0) / 1e6;
        assert!((cost - expected).abs() < 1e-12, "{cost} {expected}");
        assert!((openai.input_cost_usd(500_000) - 1.0).abs() < 1e-12);
    }
}
