//! `[heartbeat]`: a periodic check that costs no model call when nothing happened.
//! `every` (off when absent), `checklist` (a file in the workspace, default
//! `HEARTBEAT.md`), `probes = [{ name, command }]` run in the sandbox on each tick, and
//! `probe_timeout_secs`.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// The checklist file when none is named.
pub const DEFAULT_CHECKLIST: &str = "HEARTBEAT.md";
/// How long one probe may run when `probe_timeout_secs` is not set.
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// `[heartbeat]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeartbeatFile {
    every: Option<Spanned<String>>,
    checklist: Option<Spanned<String>>,
    #[serde(default)]
    probes: Vec<Spanned<ProbeFile>>,
    probe_timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeFile {
    name: String,
    command: String,
}

/// One probe: a shell command whose output and exit status tell the heartbeat whether
/// there is news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    pub name: String,
    pub command: String,
}

/// `[heartbeat]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// Time between ticks; `None`: no heartbeat.
    pub every: Option<Duration>,
    /// The checklist's path, relative to the workspace.
    pub checklist: String,
    pub probes: Vec<ProbeConfig>,
    pub probe_timeout: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        Self {
            every: None,
            checklist: DEFAULT_CHECKLIST.into(),
            probes: Vec::new(),
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
        }
    }
}

pub(super) fn heartbeat(
    file: HeartbeatFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<HeartbeatConfig, ConfigError> {
    let mut config = HeartbeatConfig::default();
    if let Some(every) = file.every {
        let interval = hearth_schedule::parse_duration(every.get_ref()).map_err(|why| {
            ConfigError(format!(
                "{}: [heartbeat] every: {why}; write a duration like \"30m\"",
                at(every.span())
            ))
        })?;
        config.every = Some(interval.unsigned_abs());
    }
    if let Some(checklist) = file.checklist {
        let path = std::path::Path::new(checklist.get_ref());
        let inside = path.is_relative()
            && path
                .components()
                .all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside || checklist.get_ref().is_empty() {
            return Err(ConfigError(format!(
                "{}: [heartbeat] checklist = \"{}\" must be a path inside the workspace, \
                 like \"HEARTBEAT.md\"",
                at(checklist.span()),
                checklist.get_ref()
            )));
        }
        config.checklist = checklist.into_inner();
    }
    for probe in file.probes {
        let span = probe.span();
        let probe = probe.into_inner();
        let name_ok = !probe.name.is_empty()
            && probe
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok || probe.command.trim().is_empty() {
            return Err(ConfigError(format!(
                "{}: [heartbeat] probes: each needs a name (letters, digits, '.', '_', '-') \
                 and a command",
                at(span)
            )));
        }
        if config.probes.iter().any(|known| known.name == probe.name) {
            return Err(ConfigError(format!(
                "{}: [heartbeat] probes: the name '{}' is used twice",
                at(span),
                probe.name
            )));
        }
        config.probes.push(ProbeConfig {
            name: probe.name,
            command: probe.command,
        });
    }
    if let Some(secs) = file.probe_timeout_secs {
        config.probe_timeout = Duration::from_secs(secs.max(1));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::path::Path;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Config, super::ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn heartbeat_settings_parse_and_default_off() {
        assert_eq!(parse("").unwrap().heartbeat.every, None);
        let config = parse(
            "[heartbeat]\nevery = \"30m\"\nprobes = [{ name = \"mail\", command = \"ls mail | wc -l\" }]\n",
        )
        .unwrap()
        .heartbeat;
        assert_eq!(config.every, Some(Duration::from_secs(1800)));
        assert_eq!(config.checklist, "HEARTBEAT.md");
        assert_eq!(config.probes[0].name, "mail");
    }

    #[test]
    fn bad_heartbeat_settings_name_the_line() {
        let error = parse("[heartbeat]\nevery = \"often\"\n").unwrap_err();
        assert!(error.0.contains("line 2"), "{error}");
        let error = parse("[heartbeat]\nchecklist = \"../x.md\"\n").unwrap_err();
        assert!(error.0.contains("inside the workspace"), "{error}");
        let error = parse(
            "[heartbeat]\nprobes = [{ name = \"a\", command = \"x\" }, { name = \"a\", command = \"y\" }]\n",
        )
        .unwrap_err();
        assert!(error.0.contains("used twice"), "{error}");
    }
}
