//! `[security]` (the prompt-injection policy: `injection`, `guarded_tools`,
//! `trusted_tools`, `[security.destinations]`) and `[network]` (the egress allow-list:
//! `allow`).

use std::collections::BTreeMap;

use hearth_agent::InjectionMode;
use hearth_tools::EgressAllowList;
use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// `[security]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SecurityFile {
    injection: Option<Spanned<String>>,
    #[serde(default)]
    guarded_tools: Vec<Spanned<String>>,
    #[serde(default)]
    trusted_tools: Vec<Spanned<String>>,
    #[serde(default)]
    destinations: BTreeMap<String, Spanned<Vec<String>>>,
}

/// `[network]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkFile {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

/// `[security]` and `[network]`, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// `[security] injection`: strict, ask (the default) or off.
    pub injection: InjectionMode,
    /// `[security] guarded_tools`: more tools (MCP ones, say) whose every call is
    /// guarded once untrusted content is in the context; `"mail__*"` names every tool
    /// of the MCP server `mail`.
    pub guarded_tools: Vec<String>,
    /// `[security] trusted_tools`: tools (or `"server__*"`) the policy never guards
    /// (`exec`'s rules aside), MCP tools without `readOnlyHint` among them.
    pub trusted_tools: Vec<String>,
    /// `[security.destinations]`: per tool (or `"server__*"`), the arguments that name
    /// where a call sends; a guarded call passes when the person named every value.
    pub destinations: BTreeMap<String, Vec<String>>,
    /// `[network] allow`: the hosts web_fetch may reach (empty: any public one), and
    /// the only way to reach a loopback or private address.
    pub allow: EgressAllowList,
}

pub(super) fn security(
    security: SecurityFile,
    network: NetworkFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<SecurityConfig, ConfigError> {
    let injection = match &security.injection {
        Some(mode) => mode.get_ref().parse().map_err(|why: String| {
            ConfigError(format!("{}: [security] injection: {why}", at(mode.span())))
        })?,
        None => InjectionMode::default(),
    };
    let mut entries = Vec::new();
    for entry in &network.allow {
        EgressAllowList::parse([entry.get_ref()])
            .map_err(|why| ConfigError(format!("{}: {why}", at(entry.span()))))?;
        entries.push(entry.get_ref().clone());
    }
    let allow = EgressAllowList::parse(&entries).map_err(ConfigError)?;
    let guarded_tools = security
        .guarded_tools
        .into_iter()
        .map(Spanned::into_inner)
        .collect();
    let trusted_tools = security
        .trusted_tools
        .into_iter()
        .map(Spanned::into_inner)
        .collect();
    let mut destinations = BTreeMap::new();
    for (tool, arguments) in security.destinations {
        if arguments.get_ref().is_empty() {
            return Err(ConfigError(format!(
                "{}: [security.destinations] \"{tool}\": name at least one argument (an empty list would let every call through)",
                at(arguments.span())
            )));
        }
        destinations.insert(tool, arguments.into_inner());
    }
    Ok(SecurityConfig {
        injection,
        guarded_tools,
        trusted_tools,
        destinations,
        allow,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use hearth_agent::InjectionMode;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn injection_defaults_to_ask_and_names_bad_values() {
        let config = parse("").unwrap();
        assert_eq!(config.security.injection, InjectionMode::Ask);
        assert!(config.security.allow.is_empty());
        let config = parse(
            "[security]\ninjection = \"strict\"\nguarded_tools = [\"mail__send\"]\n\
             [network]\nallow = [\"example.org\", \"*.wikipedia.org\", \"127.0.0.1:8080\"]\n",
        )
        .unwrap();
        assert_eq!(config.security.injection, InjectionMode::Strict);
        assert_eq!(config.security.guarded_tools, ["mail__send"]);
        assert_eq!(
            config.security.allow.describe(),
            "example.org, *.wikipedia.org, 127.0.0.1:8080"
        );
        let config = parse(
            "[security]\ntrusted_tools = [\"docs__*\"]\n\
             [security.destinations]\n\"mail__send\" = [\"recipients\", \"cc\"]\n",
        )
        .unwrap();
        assert_eq!(config.security.trusted_tools, ["docs__*"]);
        assert_eq!(
            config.security.destinations["mail__send"],
            ["recipients", "cc"]
        );
        let err = parse("[security.destinations]\n\"mail__send\" = []\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("at least one"),
            "{err}"
        );
        let err = parse("[security]\ninjection = \"lax\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("strict, ask, off"),
            "{err}"
        );
        let err = parse("[network]\nallow = [\n  \"ok.org\",\n  \"https://x.org/\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 4") && err.contains("not a host"),
            "{err}"
        );
    }
}
