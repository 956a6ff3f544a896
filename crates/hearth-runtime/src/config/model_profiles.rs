//! The per-model and cost keys of `config.toml`: `[models."provider:NAME"]`
//! context_window, max_output_tokens, prices, temperature, top_p and tools, and
//! `[budget]` daily_usd and session_usd, validated with errors that name the line and
//! the fix.

use std::collections::BTreeMap;
use std::ops::Range;

use hearth_agent::Budget;
use hearth_models::{ProfileOverrides, Sampling};
use toml::Spanned;

use super::{ConfigError, ModelFile};

/// The window and price settings of each `[models."provider:NAME"]` table that has any.
pub(super) fn overrides(
    models: &BTreeMap<String, Spanned<ModelFile>>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<BTreeMap<String, ProfileOverrides>, ConfigError> {
    let mut profiles = BTreeMap::new();
    for (id, table) in models {
        let file = table.get_ref();
        let window = file.context_window.as_ref().map(|window| {
            positive(
                *window.get_ref() as f64,
                window.span(),
                id,
                "context_window",
                at,
            )
            .map(|_| *window.get_ref())
        });
        let output = file.max_output_tokens.as_ref().map(|cap| {
            positive(
                *cap.get_ref() as f64,
                cap.span(),
                id,
                "max_output_tokens",
                at,
            )
            .map(|_| *cap.get_ref())
        });
        let price = |value: &Option<Spanned<f64>>, key: &str| {
            value
                .as_ref()
                .map(|price| price_per_mtok(price, id, key, at))
                .transpose()
        };
        let overrides = ProfileOverrides {
            context_window: window.transpose()?,
            max_output_tokens: output.transpose()?,
            input_usd_per_mtok: price(&file.input_usd_per_mtok, "input_usd_per_mtok")?,
            output_usd_per_mtok: price(&file.output_usd_per_mtok, "output_usd_per_mtok")?,
            cached_input_usd_per_mtok: price(
                &file.cached_input_usd_per_mtok,
                "cached_input_usd_per_mtok",
            )?,
        };
        if overrides != ProfileOverrides::default() {
            profiles.insert(id.clone(), overrides);
        }
    }
    Ok(profiles)
}

/// The `tools` list of each `[models."provider:NAME"]` table that has one: each name a
/// built-in tool or an MCP server's (`SERVER__tool`), none twice.
pub(super) fn tool_lists(
    models: &BTreeMap<String, Spanned<ModelFile>>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<BTreeMap<String, Vec<String>>, ConfigError> {
    let mut lists = BTreeMap::new();
    for (id, table) in models {
        let Some(tools) = &table.get_ref().tools else {
            continue;
        };
        let names = tools.get_ref();
        for (index, name) in names.iter().enumerate() {
            let known = crate::model_tools::BUILT_IN_TOOLS.contains(&name.as_str())
                || name
                    .split_once("__")
                    .is_some_and(|(server, tool)| !server.is_empty() && !tool.is_empty());
            if !known {
                return Err(ConfigError(format!(
                    "{}: [models.\"{id}\"] tools: unknown tool '{name}'; built-in tools: {}, or an MCP server's as SERVER__tool",
                    at(tools.span()),
                    crate::model_tools::BUILT_IN_TOOLS.join(", ")
                )));
            }
            if names[..index].contains(name) {
                return Err(ConfigError(format!(
                    "{}: [models.\"{id}\"] tools: '{name}' is listed twice",
                    at(tools.span())
                )));
            }
        }
        lists.insert(id.clone(), names.clone());
    }
    Ok(lists)
}

/// `temperature` (0 to 2) and `top_p` (above 0, at most 1) of one model's table.
pub(super) fn sampling(
    file: &ModelFile,
    id: &str,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Sampling, ConfigError> {
    let check = |value: &Option<Spanned<f64>>,
                 key: &str,
                 valid: fn(f64) -> bool,
                 range: &str|
     -> Result<Option<f64>, ConfigError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let number = *value.get_ref();
        if number.is_finite() && valid(number) {
            return Ok(Some(number));
        }
        Err(ConfigError(format!(
            "{}: [models.\"{id}\"] {key} = {number}: give a number {range}",
            at(value.span())
        )))
    };
    Ok(Sampling {
        temperature: check(
            &file.temperature,
            "temperature",
            |t| (0.0..=2.0).contains(&t),
            "from 0 to 2, e.g. 0.7",
        )?,
        top_p: check(
            &file.top_p,
            "top_p",
            |p| p > 0.0 && p <= 1.0,
            "above 0 and at most 1, e.g. 0.9",
        )?,
    })
}

/// `[budget]`: each limit, when given, a positive number of USD.
pub(super) fn budget(
    daily_usd: Option<Spanned<f64>>,
    session_usd: Option<Spanned<f64>>,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<Budget, ConfigError> {
    let limit = |value: Option<Spanned<f64>>, key: &str| -> Result<Option<f64>, ConfigError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let usd = *value.get_ref();
        if !usd.is_finite() || usd <= 0.0 {
            return Err(ConfigError(format!(
                "{}: [budget] {key} = {usd}: give a positive amount of USD, e.g. {key} = 5.0, or remove the key for no limit",
                at(value.span())
            )));
        }
        Ok(Some(usd))
    };
    Ok(Budget {
        daily_usd: limit(daily_usd, "daily_usd")?,
        session_usd: limit(session_usd, "session_usd")?,
    })
}

fn positive(
    value: f64,
    span: Range<usize>,
    id: &str,
    key: &str,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<(), ConfigError> {
    if value > 0.0 {
        return Ok(());
    }
    Err(ConfigError(format!(
        "{}: [models.\"{id}\"] {key} = {value}: give a positive number of tokens",
        at(span)
    )))
}

fn price_per_mtok(
    price: &Spanned<f64>,
    id: &str,
    key: &str,
    at: &dyn Fn(Range<usize>) -> String,
) -> Result<f64, ConfigError> {
    let usd = *price.get_ref();
    if usd.is_finite() && usd >= 0.0 {
        return Ok(usd);
    }
    Err(ConfigError(format!(
        "{}: [models.\"{id}\"] {key} = {usd}: give the price in USD per million tokens, 0 or more (e.g. 2.5)",
        at(price.span())
    )))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn sampling_is_read_per_model_and_validated() {
        let config = parse("[models.\"openai:llama3\"]\ntemperature = 0.2\ntop_p = 0.8\n").unwrap();
        let sampling = config.openai.model_sampling["llama3"];
        assert_eq!(
            (sampling.temperature, sampling.top_p),
            (Some(0.2), Some(0.8))
        );
        assert!(config.anthropic.model_sampling.is_empty());
        let err = parse("\n[models.\"openai:llama3\"]\ntemperature = 3.0\n")
            .unwrap_err()
            .0;
        assert!(
            err.contains("line 3") && err.contains("from 0 to 2"),
            "{err}"
        );
        let err = parse("[models.\"openai:llama3\"]\ntop_p = 0\n")
            .unwrap_err()
            .0;
        assert!(err.contains("top_p = 0"), "{err}");
        let err = parse("[models.\"local:smollm2\"]\ntemperature = 0.5\n")
            .unwrap_err()
            .0;
        assert!(err.contains("local models"), "{err}");
    }

    #[test]
    fn window_and_prices_are_read_per_model_local_ones_included() {
        let config = parse(
            "[models.\"openai:gpt-x\"]\ncontext_window = 16000\nmax_output_tokens = 2000\ninput_usd_per_mtok = 2.5\noutput_usd_per_mtok = 10\ncached_input_usd_per_mtok = 1.25\n\n[models.\"local:smollm2\"]\ncontext_window = 2048\n",
        )
        .unwrap();
        let gpt = config.model_profiles["openai:gpt-x"];
        assert_eq!(gpt.context_window, Some(16_000));
        assert_eq!(gpt.max_output_tokens, Some(2000));
        assert_eq!(gpt.input_usd_per_mtok, Some(2.5));
        assert_eq!(gpt.output_usd_per_mtok, Some(10.0));
        assert_eq!(gpt.cached_input_usd_per_mtok, Some(1.25));
        assert_eq!(
            config.model_profiles["local:smollm2"].context_window,
            Some(2048)
        );
    }

    #[test]
    fn bad_values_name_the_line_and_the_fix() {
        let err = parse("[models.\"openai:x\"]\n\ninput_usd_per_mtok = -1.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("USD per million"),
            "{err}"
        );
        let err = parse("[models.\"openai:x\"]\ncontext_window = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2") && err.contains("positive"), "{err}");
        let err = parse("[budget]\ndaily_usd = 0.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("[budget] daily_usd"),
            "{err}"
        );
        let err = parse("[budget]\nmonthly_usd = 3.0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("monthly_usd"),
            "{err}"
        );
    }

    #[test]
    fn tool_lists_are_read_per_model_and_checked() {
        let config = parse(
            "[models.\"local:smollm2\"]\ntools = [\"read_file\", \"exec\", \"docs__search\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.model_tools["local:smollm2"],
            ["read_file", "exec", "docs__search"]
        );
        assert!(parse("").unwrap().model_tools.is_empty());
        let err = parse("[models.\"local:smollm2\"]\n\ntools = [\"read_fil\"]\n")
            .unwrap_err()
            .0;
        assert!(
            err.contains("line 3")
                && err.contains("unknown tool 'read_fil'")
                && err.contains("write_file"),
            "{err}"
        );
        let err = parse("[models.\"openai:x\"]\ntools = [\"exec\", \"exec\"]\n")
            .unwrap_err()
            .0;
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn budgets_are_read() {
        let config = parse("[budget]\ndaily_usd = 5\nsession_usd = 0.5\n").unwrap();
        assert_eq!(config.budget.daily_usd, Some(5.0));
        assert_eq!(config.budget.session_usd, Some(0.5));
        assert_eq!(parse("").unwrap().budget, Default::default());
    }
}
