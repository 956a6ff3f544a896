//! Where Hearth sends anything: the list `hearth doctor` prints (providers, MCP servers
//! with URLs, channels, what `web_fetch` may reach) and the rule for sandboxed
//! commands' network under an allow-list.
//!
//! Sandboxed commands cannot be limited per host: bubblewrap (and the Landlock helper)
//! give a command either no network namespace of its own (all of the host's network) or
//! an empty one (none); filtering by host would need a proxy or a user-space network
//! stack (slirp4netns, pasta) inside the namespace, which Hearth does not ship. So with
//! `[network] allow` set, sandboxed commands get no network even when
//! `[sandbox] network = true`; `hearth doctor` says so.

use hearth_tools::EgressAllowList;

use crate::config::Config;

/// Whether sandboxed commands get network: `[sandbox] network`, unless an allow-list
/// is set (which commands could not be held to).
pub fn sandbox_network(configured: bool, allow: &EgressAllowList) -> bool {
    configured && allow.is_empty()
}

/// One place Hearth may send data to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// What sends there: "provider openai", "MCP server docs", "web_fetch".
    pub who: String,
    /// Where: a base URL, or a description of a set of hosts.
    pub target: String,
}

/// Every outbound destination `config` allows, providers first.
pub fn destinations(config: &Config) -> Vec<Destination> {
    let mut found = vec![
        Destination {
            who: "provider openai".into(),
            target: config.openai.base_url.clone(),
        },
        Destination {
            who: "provider anthropic".into(),
            target: config.anthropic.base_url.clone(),
        },
    ];
    for server in &config.mcp_servers {
        if let hearth_mcp::Transport::Http { url } = &server.transport {
            found.push(Destination {
                who: format!("MCP server {}", server.name),
                target: url.clone(),
            });
        }
    }
    if let Some(telegram) = &config.channels.telegram {
        found.push(Destination {
            who: "channel telegram".into(),
            target: telegram.api_base.clone(),
        });
    }
    let allow = &config.security.allow;
    let web = if !allow.is_empty() {
        let private = if config.web_allow_private_addresses {
            " (loopback and private addresses of these included: [web] allow_private_addresses)"
        } else {
            ""
        };
        format!("only [network] allow: {}{private}", allow.describe())
    } else if config.web_allow_private_addresses {
        "any http(s) URL the model asks for, loopback and private addresses included ([web] allow_private_addresses)".into()
    } else {
        "any public http(s) URL the model asks for (loopback, private and link-local refused; [network] allow limits it)".into()
    };
    found.push(Destination {
        who: "web_fetch".into(),
        target: web,
    });
    let commands = if !config.network {
        "no network"
    } else if !allow.is_empty() {
        "no network: [sandbox] network = true is overridden by [network] allow, which sandboxed commands cannot be held to"
    } else {
        "any host ([sandbox] network = true)"
    };
    found.push(Destination {
        who: "sandboxed commands".into(),
        target: commands.into(),
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_destination_is_listed_and_the_allow_list_closes_command_network() {
        let text = "[providers.openai]\nbase_url = \"http://127.0.0.1:11434/v1\"\n\
                    [mcp.servers.docs]\nurl = \"https://mcp.example.org/mcp\"\n\
                    [mcp.servers.local]\ncommand = \"docs-server\"\n\
                    [sandbox]\nnetwork = true\n\
                    [network]\nallow = [\"example.org\", \"*.wikipedia.org\"]\n";
        let config = Config::parse(text, Path::new("config.toml"), &|_| None).unwrap();
        let shown: Vec<String> = destinations(&config)
            .iter()
            .map(|d| format!("{}: {}", d.who, d.target))
            .collect();
        assert_eq!(shown[0], "provider openai: http://127.0.0.1:11434/v1");
        assert!(shown.contains(&"MCP server docs: https://mcp.example.org/mcp".to_string()));
        assert!(
            !shown.iter().any(|line| line.contains("local")),
            "{shown:?}"
        );
        assert!(shown.contains(
            &"web_fetch: only [network] allow: example.org, *.wikipedia.org".to_string()
        ));
        assert!(shown
            .last()
            .unwrap()
            .starts_with("sandboxed commands: no network"));
        assert!(!sandbox_network(config.network, &config.security.allow));
        assert!(sandbox_network(true, &EgressAllowList::default()));
    }
}
