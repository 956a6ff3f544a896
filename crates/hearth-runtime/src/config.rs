//! `config.toml`: parsed, validated with errors that name the line and the fix, then
//! overridden by environment variables (and later by a front end's [`crate::Overrides`]).

use std::collections::BTreeMap;
use std::path::Path;

use hearth_agent::AgentSettings;
use hearth_models::{ModelRef, ProviderKind, ProviderSettings};
use hearth_sandbox::SandboxMode;
use serde::Deserialize;
use toml::Spanned;

use hearth_tools::ApprovalPolicy;

mod channels;
mod context_settings;
mod gateway_settings;
mod heartbeat;
mod model_profiles;
mod security;
mod subagent_settings;

pub use channels::{
    ChannelsConfig, EmailConfig, EmailTlsMode, MatrixConfig, MatrixLogin, TelegramConfig,
};
pub use context_settings::ContextConfig;
pub use gateway_settings::parse_origin;
pub use heartbeat::{HeartbeatConfig, ProbeConfig, DEFAULT_CHECKLIST};
pub use security::SecurityConfig;

/// Providers Hearth knows, by the prefix of a `provider:model` id.
pub use hearth_models::KNOWN_PROVIDERS;

/// The file as written by the user. Unknown keys are errors (a typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    model: Option<Spanned<String>>,
    #[serde(default)]
    providers: ProvidersFile,
    #[serde(default)]
    mcp: McpFile,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    sandbox: SandboxFile,
    #[serde(default)]
    web: WebFile,
    /// `[models."provider:NAME"]`: settings of one model.
    #[serde(default)]
    models: BTreeMap<String, Spanned<ModelFile>>,
    #[serde(default)]
    budget: BudgetFile,
    /// `[context]`: compaction of long sessions.
    #[serde(default)]
    context: context_settings::ContextFile,
    /// `[subagents]`: spawn_agent's limits.
    #[serde(default)]
    subagents: subagent_settings::SubAgentsFile,
    /// `[security]`: the prompt-injection policy.
    #[serde(default)]
    security: security::SecurityFile,
    /// `[network]`: the egress allow-list.
    #[serde(default)]
    network: security::NetworkFile,
    /// `[channels.telegram]`: chat channels `hearth serve` runs.
    #[serde(default)]
    channels: channels::ChannelsFile,
    /// `[heartbeat]`: periodic checks by probes, waking the model only on news.
    #[serde(default)]
    heartbeat: heartbeat::HeartbeatFile,
    /// `[gateway]`: `hearth serve`'s extra allowed page origins.
    #[serde(default)]
    gateway: gateway_settings::GatewayFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    /// The longest silence tolerated from this model, in seconds (reasoning models
    /// think silently; see `hearth_models::REASONING_IDLE_TIMEOUT`).
    idle_timeout_secs: Option<Spanned<u64>>,
    /// The model's window and prices (override the built-in table).
    context_window: Option<Spanned<u64>>,
    max_output_tokens: Option<Spanned<u32>>,
    input_usd_per_mtok: Option<Spanned<f64>>,
    output_usd_per_mtok: Option<Spanned<f64>>,
    cached_input_usd_per_mtok: Option<Spanned<f64>>,
    /// Sampling sent with this model's requests (over an Ollama model's own values).
    temperature: Option<Spanned<f64>>,
    top_p: Option<Spanned<f64>>,
    /// The tools offered to this model (all of them when absent; see `crate::model_tools`).
    tools: Option<Spanned<Vec<String>>>,
}

/// `[budget]`: spending limits in USD.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetFile {
    daily_usd: Option<Spanned<f64>>,
    session_usd: Option<Spanned<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProvidersFile {
    openai: Option<ProviderFile>,
    anthropic: Option<ProviderFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderFile {
    base_url: Option<String>,
    api_key: Option<String>,
    timeout_secs: Option<u64>,
    max_retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct McpFile {
    #[serde(default)]
    servers: std::collections::BTreeMap<String, hearth_mcp::ServerSettingsFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_steps: Option<u32>,
    max_output_tokens: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    mode: Option<Spanned<String>>,
    approval: Option<Spanned<String>>,
    network: Option<bool>,
    /// Variables for every command: a literal, or `secret:NAME` for a stored secret.
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebFile {
    /// Let web_fetch reach loopback, private and link-local addresses.
    allow_private_addresses: Option<bool>,
}

/// The effective configuration: file, then environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub model: Option<String>,
    pub openai: ProviderSettings,
    pub anthropic: ProviderSettings,
    pub max_steps: u32,
    pub max_output_tokens: u32,
    pub sandbox_mode: SandboxMode,
    pub approval: ApprovalPolicy,
    pub network: bool,
    /// `[sandbox.env]`: name → literal or `secret:NAME` (resolved only at the boundary).
    pub sandbox_env: Vec<(String, String)>,
    /// `[mcp.servers.NAME]`, validated, in name order.
    pub mcp_servers: Vec<hearth_mcp::ServerSettings>,
    /// `[web] allow_private_addresses`: web_fetch may reach loopback, private and
    /// link-local addresses (off by default).
    pub web_allow_private_addresses: bool,
    /// `[models."provider:NAME"]` window and price settings, by `provider:NAME`.
    pub model_profiles: BTreeMap<String, hearth_models::ProfileOverrides>,
    /// `[models."provider:NAME"] tools`: the tools offered to a model, by `provider:NAME`.
    pub model_tools: BTreeMap<String, Vec<String>>,
    /// `[budget]`: the most a day's and a session's model calls may cost.
    pub budget: hearth_agent::Budget,
    /// `[context]`: when and how long histories are compacted.
    pub context: ContextConfig,
    /// `[subagents]`: how many children at once, how deep, how much of their answer.
    pub subagents: hearth_agent::SubAgentSettings,
    /// `[security]` and `[network]`: the injection policy and the egress allow-list.
    pub security: SecurityConfig,
    /// `[channels]`: the chat channels `hearth serve` runs.
    pub channels: ChannelsConfig,
    /// `[heartbeat]`: how often, the checklist and the probes.
    pub heartbeat: HeartbeatConfig,
    /// `[gateway] origins`: page origins `hearth serve` accepts besides its own.
    pub gateway_origins: Vec<String>,
}

/// Anything wrong with the configuration, said so a person can fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The largest `config.toml` read: parsing is bounded in memory whatever the file holds.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// The file's text, reading at most one byte past [`MAX_CONFIG_BYTES`] (so `parse`
/// refuses an oversized file without holding it).
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    Ok(text)
}

impl Config {
    /// Loads `path` (a missing file is an empty config), then applies the environment.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = match read_bounded(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => {
                return Err(ConfigError(format!(
                    "cannot read {}: {err}",
                    path.display()
                )));
            }
        };
        Self::parse(&text, path, env)
    }

    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError(format!(
                "{}: the file is over {MAX_CONFIG_BYTES} bytes, far more than any config needs; \
                 is it the right file?",
                path.display()
            )));
        }
        let file: ConfigFile = toml::from_str(text).map_err(|err| {
            let at = err
                .span()
                .map(|span| format!(" line {}", line_of(text, span.start)))
                .unwrap_or_default();
            ConfigError(format!(
                "{}{at}: {}; see the README's Configuration section for the keys",
                path.display(),
                err.message()
            ))
        })?;
        let at = |span: std::ops::Range<usize>| {
            format!("{} line {}", path.display(), line_of(text, span.start))
        };

        if let Some(model) = &file.model {
            validate_model_id(model.get_ref())
                .map_err(|why| ConfigError(format!("{}: {why}", at(model.span()))))?;
        }
        let sandbox_mode = match &file.sandbox.mode {
            Some(mode) => mode
                .get_ref()
                .parse()
                .map_err(|why: String| ConfigError(format!("{}: {why}", at(mode.span()))))?,
            None => SandboxMode::WorkspaceWrite,
        };
        let approval = match &file.sandbox.approval {
            Some(policy) => policy
                .get_ref()
                .parse()
                .map_err(|why: String| ConfigError(format!("{}: {why}", at(policy.span()))))?,
            None => ApprovalPolicy::OnRequest,
        };

        let defaults = AgentSettings::default();
        let mut config = Config {
            model: file.model.map(Spanned::into_inner),
            openai: provider_settings(ProviderKind::OpenAi, file.providers.openai),
            anthropic: provider_settings(ProviderKind::Anthropic, file.providers.anthropic),
            max_steps: file.limits.max_steps.unwrap_or(defaults.max_steps),
            max_output_tokens: file
                .limits
                .max_output_tokens
                .unwrap_or(defaults.max_output_tokens),
            sandbox_mode,
            approval,
            network: file.sandbox.network.unwrap_or(false),
            sandbox_env: file.sandbox.env.into_iter().collect(),
            mcp_servers: hearth_mcp::validate_servers(file.mcp.servers)
                .map_err(|why| ConfigError(format!("{}: {why}", path.display())))?,
            web_allow_private_addresses: file.web.allow_private_addresses.unwrap_or(false),
            model_profiles: model_profiles::overrides(&file.models, &at)?,
            model_tools: model_profiles::tool_lists(&file.models, &at)?,
            budget: model_profiles::budget(file.budget.daily_usd, file.budget.session_usd, &at)?,
            context: context_settings::context(file.context, &at)?,
            subagents: subagent_settings::subagents(file.subagents),
            security: security::security(file.security, file.network, &at)?,
            channels: channels::channels(file.channels, &at)?,
            heartbeat: heartbeat::heartbeat(file.heartbeat, &at)?,
            gateway_origins: gateway_settings::origins(file.gateway, &at)?,
        };
        apply_model_settings(&mut config, file.models, &at)?;
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let set = |name: &str| env(name).filter(|value| !value.is_empty());
        if let Some(model) = set("HEARTH_MODEL") {
            validate_model_id(&model).map_err(|why| ConfigError(format!("HEARTH_MODEL: {why}")))?;
            self.model = Some(model);
        }
        if let Some(url) = set("OPENAI_BASE_URL") {
            self.openai.base_url = url;
        }
        if let Some(key) = set("OPENAI_API_KEY") {
            self.openai.api_key = Some(key);
        }
        if let Some(url) = set("ANTHROPIC_BASE_URL") {
            self.anthropic.base_url = url;
        }
        if let Some(key) = set("ANTHROPIC_API_KEY") {
            self.anthropic.api_key = Some(key);
        }
        Ok(())
    }

    /// The settings for the provider a model id names.
    pub fn provider_for(&self, model: &ModelRef) -> Result<ProviderSettings, ConfigError> {
        match model.provider.as_str() {
            "openai" => Ok(self.openai.clone()),
            "anthropic" => Ok(self.anthropic.clone()),
            "local" => Err(ConfigError(
                "local models run in-process and have no HTTP provider settings".into(),
            )),
            other => Err(ConfigError(unknown_provider(other))),
        }
    }
}

fn provider_settings(kind: ProviderKind, file: Option<ProviderFile>) -> ProviderSettings {
    let mut settings = ProviderSettings::new(kind);
    if let Some(file) = file {
        if let Some(url) = file.base_url {
            settings.base_url = url;
        }
        settings.api_key = file.api_key.or(settings.api_key);
        if let Some(secs) = file.timeout_secs {
            settings.idle_timeout = std::time::Duration::from_secs(secs);
        }
        if let Some(retries) = file.max_retries {
            settings.max_retries = retries;
        }
    }
    settings
}

/// The longest `idle_timeout_secs` accepted: a day.
const MAX_IDLE_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// `[models."provider:NAME"]`: each key must name an HTTP provider's model; its
/// `idle_timeout_secs` goes to that provider's per-model timeouts.
fn apply_model_settings(
    config: &mut Config,
    models: BTreeMap<String, Spanned<ModelFile>>,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<(), ConfigError> {
    for (id, table) in models {
        let where_ = at(table.span());
        let model = validate_model_id(&id)
            .map_err(|why| ConfigError(format!("{where_}: [models.\"{id}\"]: {why}")))?;
        let settings = match model.provider.as_str() {
            "openai" => &mut config.openai,
            "anthropic" => &mut config.anthropic,
            // A local model's window and prices are read by `model_profiles`.
            _ if table.get_ref().idle_timeout_secs.is_none()
                && model_profiles::sampling(table.get_ref(), &id, at)?.is_empty() =>
            {
                continue
            }
            _ => {
                return Err(ConfigError(format!(
                    "{where_}: [models.\"{id}\"]: local models run in-process and have no idle timeout or sampling settings; settings here are for openai: and anthropic: models"
                )))
            }
        };
        let sampling = model_profiles::sampling(table.get_ref(), &id, at)?;
        if !sampling.is_empty() {
            settings
                .model_sampling
                .insert(model.model.clone(), sampling);
        }
        if let Some(secs) = &table.get_ref().idle_timeout_secs {
            let value = *secs.get_ref();
            if value == 0 || value > MAX_IDLE_TIMEOUT_SECS {
                return Err(ConfigError(format!(
                    "{}: [models.\"{id}\"] idle_timeout_secs = {value}: give a number of seconds from 1 to {MAX_IDLE_TIMEOUT_SECS}, e.g. 1200 for a reasoning model",
                    at(secs.span())
                )));
            }
            settings
                .model_idle_timeouts
                .insert(model.model, std::time::Duration::from_secs(value));
        }
    }
    Ok(())
}

/// Checks a `provider:model` id names a known provider and a model.
pub fn validate_model_id(id: &str) -> Result<ModelRef, String> {
    let Some((provider, model)) = id.split_once(':') else {
        return Err(format!(
            "model '{id}' should be written provider:model, e.g. openai:gpt-4o-mini or anthropic:claude-sonnet-4-5"
        ));
    };
    if !KNOWN_PROVIDERS.contains(&provider) {
        return Err(unknown_provider(provider));
    }
    if model.is_empty() {
        return Err(format!("model '{id}' names no model after '{provider}:'"));
    }
    ModelRef::parse(id).map_err(|err| err.to_string())
}

fn unknown_provider(provider: &str) -> String {
    format!(
        "unknown provider '{provider}'; known: {}",
        KNOWN_PROVIDERS.join(", ")
    )
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

#[cfg(test)]
mod parse_properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn empty_config_has_safe_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.sandbox_mode, SandboxMode::WorkspaceWrite);
        assert_eq!(config.approval, ApprovalPolicy::OnRequest);
        assert!(!config.network);
        assert!(!config.web_allow_private_addresses);
        assert_eq!(config.max_steps, AgentSettings::default().max_steps);
        assert_eq!(
            config.max_output_tokens,
            AgentSettings::default().max_output_tokens
        );
        assert!(config.model.is_none());
    }

    #[test]
    fn web_private_addresses_are_opened_only_by_a_boolean() {
        let config = parse("[web]\nallow_private_addresses = true\n").unwrap();
        assert!(config.web_allow_private_addresses);
        let err = parse("[web]\nallow_private_addresses = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse("[web]\nallow_private = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("allow_private_addresses"),
            "{err}"
        );
    }

    #[test]
    fn unknown_provider_names_the_line_and_the_known_ones() {
        let err = parse("# mine\n\nmodel = \"opnai:gpt-4o\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.toml line 3"), "{err}");
        assert!(
            err.contains("unknown provider 'opnai'; known: openai, anthropic"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_and_bad_syntax_name_the_line() {
        let err = parse("model = \"openai:x\"\n[limits]\nmax_stepz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("max_stepz"), "{err}");
        let err = parse("model = \n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = parse("[sandbox]\nmode = \"open\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("workspace-write"),
            "{err}"
        );
    }

    #[test]
    fn model_idle_timeouts_are_read_per_model_and_validated() {
        let config = parse(
            "[models.\"openai:o3\"]\nidle_timeout_secs = 1200\n\n[models.\"anthropic:claude-opus-4-5\"]\nidle_timeout_secs = 30\n",
        )
        .unwrap();
        assert_eq!(
            config.openai.idle_timeout_for("o3"),
            std::time::Duration::from_secs(1200)
        );
        assert_eq!(
            config.anthropic.idle_timeout_for("claude-opus-4-5"),
            std::time::Duration::from_secs(30)
        );
        assert_eq!(
            config.openai.idle_timeout_for("gpt-4o"),
            std::time::Duration::from_secs(120)
        );
        let err = parse("\n[models.\"openai:o3\"]\nidle_timeout_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("from 1 to 86400"),
            "{err}"
        );
        let err = parse("[models.\"openai:o3\"]\nidle_timeout = 5\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2") && err.contains("idle_timeout_secs"),
            "{err}"
        );
        let err = parse("[models.\"o3\"]\nidle_timeout_secs = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("provider:model"), "{err}");
        let err = parse("[models.\"local:smollm2\"]\nidle_timeout_secs = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("in-process"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = |name: &str| match name {
            "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1".to_string()),
            "HEARTH_MODEL" => Some("openai:local".to_string()),
            _ => None,
        };
        let text = "model = \"anthropic:claude\"\n[providers.openai]\nbase_url = \"http://x\"\n";
        let config = Config::parse(text, Path::new("c.toml"), &env).unwrap();
        assert_eq!(config.model.as_deref(), Some("openai:local"));
        assert_eq!(config.openai.base_url, "http://127.0.0.1:9/v1");
    }
}
