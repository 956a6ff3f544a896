//! `[mcp.servers.NAME]` in `config.toml`: how to reach one MCP server.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Seconds a server may take to start and list its tools, by default.
pub const DEFAULT_STARTUP_TIMEOUT_SECS: u64 = 30;
/// Seconds one tool call may take, by default.
pub const DEFAULT_CALL_TIMEOUT_SECS: u64 = 120;

/// One server as written in `config.toml`: `command` (+ `args`, `env`) for a stdio child
/// process, or `url` for streamable HTTP. Unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettingsFile {
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub url: Option<String>,
    pub startup_timeout_secs: Option<u64>,
    pub call_timeout_secs: Option<u64>,
}

/// How a server is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP at this URL.
    Http { url: String },
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Stdio { command, args, .. } if args.is_empty() => {
                write!(f, "stdio: {command}")
            }
            Transport::Stdio { command, args, .. } => {
                write!(f, "stdio: {command} {}", args.join(" "))
            }
            Transport::Http { url } => write!(f, "http: {url}"),
        }
    }
}

/// A validated server: its name, transport and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub name: String,
    pub transport: Transport,
    pub startup_timeout: Duration,
    pub call_timeout: Duration,
}

/// Names become tool-name prefixes (`NAME__tool`), so they are kept to what every
/// provider accepts in a tool name.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "[mcp.servers.{name}]: the server name must be 1-32 characters of a-z, A-Z, 0-9, '-' or '_' \
             without '__' (it prefixes the tool names, as NAME__tool); rename the table"
        ))
    }
}

impl ServerSettingsFile {
    /// Checks the table for server `name`: exactly one of `command` and `url`.
    pub fn validate(self, name: &str) -> Result<ServerSettings, String> {
        check_name(name)?;
        let transport = match (self.command, self.url) {
            (Some(command), None) if !command.trim().is_empty() => Transport::Stdio {
                command,
                args: self.args,
                env: self.env,
            },
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                if !self.args.is_empty() || !self.env.is_empty() {
                    return Err(format!(
                        "[mcp.servers.{name}]: 'args' and 'env' apply to a 'command' server, not to a 'url' one; remove them"
                    ));
                }
                Transport::Http { url }
            }
            (None, Some(url)) => {
                return Err(format!(
                    "[mcp.servers.{name}]: url '{url}' must start with http:// or https://"
                ))
            }
            (Some(_), Some(_)) => {
                return Err(format!(
                    "[mcp.servers.{name}]: give either 'command' (a local server over stdio) or 'url' (streamable HTTP), not both"
                ))
            }
            _ => {
                return Err(format!(
                    "[mcp.servers.{name}]: missing 'command' (e.g. command = \"npx\", args = [\"-y\", \"@modelcontextprotocol/server-everything\"]) or 'url'"
                ))
            }
        };
        let secs =
            |value: Option<u64>, default| Duration::from_secs(value.unwrap_or(default).max(1));
        Ok(ServerSettings {
            name: name.to_string(),
            transport,
            startup_timeout: secs(self.startup_timeout_secs, DEFAULT_STARTUP_TIMEOUT_SECS),
            call_timeout: secs(self.call_timeout_secs, DEFAULT_CALL_TIMEOUT_SECS),
        })
    }
}

/// Validates every `[mcp.servers.NAME]` table, in name order.
pub fn validate_servers(
    servers: BTreeMap<String, ServerSettingsFile>,
) -> Result<Vec<ServerSettings>, String> {
    servers
        .into_iter()
        .map(|(name, file)| file.validate(&name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ServerSettings>, String> {
        #[derive(Deserialize)]
        struct Mcp {
            servers: BTreeMap<String, ServerSettingsFile>,
        }
        #[derive(Deserialize)]
        struct File {
            mcp: Mcp,
        }
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        validate_servers(file.mcp.servers)
    }

    #[test]
    fn stdio_and_http_servers_are_read() {
        let servers = parse(
            "[mcp.servers.fs]\ncommand = \"npx\"\nargs = [\"-y\", \"x\"]\nenv = { A = \"1\" }\n\
             [mcp.servers.web]\nurl = \"http://127.0.0.1:9/mcp\"\ncall_timeout_secs = 5\n",
        )
        .unwrap();
        assert_eq!(servers[0].name, "fs");
        assert_eq!(servers[0].transport.to_string(), "stdio: npx -y x");
        assert_eq!(servers[1].call_timeout, Duration::from_secs(5));
    }

    #[test]
    fn mistakes_are_named_with_the_fix() {
        assert!(parse("[mcp.servers.x]\n")
            .unwrap_err()
            .contains("missing 'command'"));
        assert!(
            parse("[mcp.servers.x]\ncommand = \"a\"\nurl = \"http://h\"\n")
                .unwrap_err()
                .contains("not both")
        );
        assert!(parse("[mcp.servers.x]\nurl = \"ftp://h\"\n")
            .unwrap_err()
            .contains("http://"));
        assert!(parse("[mcp.servers.\"a__b\"]\ncommand = \"a\"\n")
            .unwrap_err()
            .contains("'__'"));
        assert!(parse("[mcp.servers.x]\ncommand = \"a\"\nargz = []\n")
            .unwrap_err()
            .contains("argz"));
    }
}
