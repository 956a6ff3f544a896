//! `[subagents]`: how many `spawn_agent` children run at once (`max_concurrent`), how
//! deep they nest (`max_depth`, 0 offers no `spawn_agent`) and how much of a child's
//! answer comes back (`answer_chars`).

use serde::Deserialize;

use hearth_agent::SubAgentSettings;

/// `[subagents]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubAgentsFile {
    max_concurrent: Option<u32>,
    max_depth: Option<u32>,
    answer_chars: Option<u32>,
}

pub(super) fn subagents(file: SubAgentsFile) -> SubAgentSettings {
    let defaults = SubAgentSettings::default();
    let size = |value: Option<u32>, default: usize| {
        value.map_or(default, |value| usize::try_from(value).unwrap_or(default))
    };
    SubAgentSettings {
        max_concurrent: size(file.max_concurrent, defaults.max_concurrent).max(1),
        max_depth: file.max_depth.unwrap_or(defaults.max_depth),
        answer_chars: size(file.answer_chars, defaults.answer_chars).max(200),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;

    #[test]
    fn subagent_settings_parse_with_defaults() {
        let parse = |text: &str| Config::parse(text, Path::new("config.toml"), &|_| None);
        let config = parse("[subagents]\nmax_concurrent = 2\nmax_depth = 0\n").unwrap();
        assert_eq!(config.subagents.max_concurrent, 2);
        assert_eq!(config.subagents.max_depth, 0);
        assert_eq!(config.subagents.answer_chars, 8_000);
        assert_eq!(parse("").unwrap().subagents.max_depth, 1);
        assert!(parse("[subagents]\nmax_children = 2\n").is_err());
    }
}
