//! `[context]`: when and how a long session's history is compacted
//! (`compact_at`, `compaction_model`, `keep_recent_turns`).

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// `[context]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContextFile {
    compact_at: Option<Spanned<f64>>,
    compaction_model: Option<Spanned<String>>,
    keep_recent_turns: Option<Spanned<u32>>,
}

/// `[context]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextConfig {
    /// Compact when the next request would pass this share of the window (0 turns
    /// automatic compaction off; `/compact` still works).
    pub compact_at: f64,
    /// `provider:model` that writes summaries; `None` is the session's model.
    pub compaction_model: Option<String>,
    /// User turns kept verbatim after a compaction.
    pub keep_recent_turns: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        let defaults = hearth_agent::CompactionSettings::default();
        ContextConfig {
            compact_at: defaults.compact_at,
            compaction_model: None,
            keep_recent_turns: defaults.keep_recent_turns,
        }
    }
}

pub(super) fn context(
    file: ContextFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<ContextConfig, ConfigError> {
    let mut config = ContextConfig::default();
    if let Some(share) = file.compact_at {
        let value = *share.get_ref();
        if !(0.0..=1.0).contains(&value) {
            return Err(ConfigError(format!(
                "{}: [context] compact_at = {value} is not a share of the window; use a \
                 number from 0.1 to 0.95 (0 turns automatic compaction off)",
                at(share.span())
            )));
        }
        config.compact_at = value;
    }
    if let Some(model) = file.compaction_model {
        super::validate_model_id(model.get_ref()).map_err(|why| {
            ConfigError(format!(
                "{}: [context] compaction_model: {why}",
                at(model.span())
            ))
        })?;
        config.compaction_model = Some(model.into_inner());
    }
    if let Some(turns) = file.keep_recent_turns {
        config.keep_recent_turns = usize::try_from(*turns.get_ref())
            .unwrap_or(usize::MAX)
            .max(1);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, super::ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn context_settings_parse_and_are_checked() {
        let config = parse("[context]\ncompact_at = 0.7\ncompaction_model = \"openai:gpt-4o-mini\"\nkeep_recent_turns = 3\n").unwrap();
        assert_eq!(config.context.compact_at, 0.7);
        assert_eq!(
            config.context.compaction_model.as_deref(),
            Some("openai:gpt-4o-mini")
        );
        assert_eq!(config.context.keep_recent_turns, 3);
        assert_eq!(parse("").unwrap().context.compact_at, 0.8);
        let error = parse("[context]\ncompact_at = 80\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("config.toml line 2") && error.contains("share"),
            "{error}"
        );
        let error = parse("[context]\ncompaction_model = \"gpt\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("compaction_model"), "{error}");
    }
}
