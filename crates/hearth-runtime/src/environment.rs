//! The process environment, read once and passed down: library crates take these
//! values from here instead of reading variables themselves.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use hearth_memory::EmbedderSettings;
use hearth_sandbox::{HelperProgram, MechanismChoice, MechanismSettings};

/// The variables `config.toml` settings are overridden by (see [`crate::config`]).
const CONFIG_VARS: [&str; 5] = [
    "HEARTH_MODEL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
];

/// Everything Hearth takes from its environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$HEARTH_HOME`, when set and not empty.
    pub hearth_home: Option<PathBuf>,
    /// `$HOME`, when set and not empty (`~/.hearth`, `~/.agents/skills`).
    pub user_home: Option<PathBuf>,
    /// The model cache (`$HEARTH_MODELS`, else `~/.cache/hearth/models`).
    pub model_cache: Option<PathBuf>,
    /// The embedding model (`$HEARTH_EMBEDDER`, else the default in the cache).
    pub embedder: EmbedderSettings,
    /// `$HEARTH_LOCAL_THREADS`: decoding threads of local models, when a positive number.
    pub local_threads: Option<i32>,
    /// `$HEARTH_SANDBOX` and the Landlock helper program (set by the front end that
    /// can run one: see [`Environment::with_sandbox_helper`]).
    pub sandbox: MechanismSettings,
    /// The variables that override config.toml, by name.
    config_vars: BTreeMap<String, String>,
}

/// The file in `$HEARTH_HOME/cache` that remembers which sandbox mechanism works here.
pub const SANDBOX_PROBE_FILE: &str = "sandbox-probe.json";

/// The file in `$HEARTH_HOME/cache` that remembers, per server and model, what the
/// Ollama probe found (for a day).
pub const OLLAMA_PROBE_FILE: &str = "ollama-probe.json";

/// The folder in `$HEARTH_HOME/cache` holding saved prompt-prefix KV states.
pub const KV_STATES_DIR: &str = "kv-states";

/// `$HEARTH_HOME/cache`: what Hearth remembers and trusts on the next start lives in
/// the home, which every sandboxed command is denied, even with `-C ~`. The model cache
/// is not: a workspace around it (`-C ~`) can write there, and a planted probe answer
/// or KV state would be read outside the sandbox.
fn trusted_cache_dir(
    hearth_home: Option<&PathBuf>,
    user_home: Option<&PathBuf>,
) -> Option<PathBuf> {
    hearth_home
        .cloned()
        .or_else(|| user_home.map(|home| home.join(".hearth")))
        .map(|home| home.join("cache"))
}

impl Environment {
    /// This process's environment.
    pub fn from_process() -> Self {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// The environment that `var` describes (tests pass a table).
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Self {
        let set = |name: &str| var(name).filter(|value| !value.is_empty());
        let text = |name: &str| set(name).map(|value| value.to_string_lossy().into_owned());
        let trusted_cache = trusted_cache_dir(
            set("HEARTH_HOME").map(PathBuf::from).as_ref(),
            set("HOME").map(PathBuf::from).as_ref(),
        );
        Self {
            hearth_home: set("HEARTH_HOME").map(PathBuf::from),
            user_home: set("HOME").map(PathBuf::from),
            model_cache: hearth_protocol::model_cache_dir(&var),
            embedder: EmbedderSettings::from_vars(&var),
            local_threads: text(hearth_local::THREADS_ENV)
                .and_then(|value| value.trim().parse::<i32>().ok())
                .filter(|threads| *threads > 0),
            sandbox: MechanismSettings {
                choice: MechanismChoice::parse(
                    &text(hearth_sandbox::MECHANISM_ENV).unwrap_or_default(),
                ),
                helper: None,
                // The probe's answer is remembered in the home (see
                // hearth_sandbox::MechanismSettings::probe_cache).
                probe_cache: trusted_cache.map(|dir| dir.join(SANDBOX_PROBE_FILE)),
            },
            config_vars: CONFIG_VARS
                .iter()
                .filter_map(|name| Some((name.to_string(), text(name)?)))
                .collect(),
        }
    }

    /// The same, with the program that runs the sandbox's Landlock helper.
    pub fn with_sandbox_helper(mut self, helper: HelperProgram) -> Self {
        self.sandbox.helper = Some(helper);
        self
    }

    /// A variable that overrides config.toml (`HEARTH_MODEL`, `OPENAI_API_KEY`, …).
    pub fn config_var(&self, name: &str) -> Option<String> {
        self.config_vars.get(name).cloned()
    }

    /// Where the Ollama probe's answers are remembered (`None` without a home).
    pub fn ollama_probe_cache(&self) -> Option<hearth_models::ollama_cache::ProbeCache> {
        trusted_cache_dir(self.hearth_home.as_ref(), self.user_home.as_ref())
            .map(|dir| hearth_models::ollama_cache::ProbeCache::new(dir.join(OLLAMA_PROBE_FILE)))
    }

    /// Options for a local model: the threads the user chose, else the default.
    pub fn local_options(&self) -> hearth_local::LocalOptions {
        let mut options = hearth_local::LocalOptions::default();
        if let Some(threads) = self.local_threads {
            options.threads = threads;
        }
        // The state after the system prompt and tools, saved for the next process.
        options.prefix_cache =
            trusted_cache_dir(self.hearth_home.as_ref(), self.user_home.as_ref())
                .map(|dir| hearth_local::PrefixCache::in_dir(dir.join(KV_STATES_DIR)));
        options
    }
}
