//! The egress allow-list (`[network] allow`): which hosts `web_fetch` may reach at all,
//! and the one way to open a loopback or private address (an explicit entry). Pure
//! matching over host names, addresses and ports; the client checks it on the first URL
//! and on every redirect hop.
//!
//! | entry              | matches                                              | opens non-public addresses |
//! |--------------------|------------------------------------------------------|----------------------------|
//! | `example.org`      | `example.org`, any port                              | yes (named exactly)        |
//! | `example.org:8443` | `example.org` on port 8443 only                      | yes                        |
//! | `*.wikipedia.org`  | any subdomain (`en.wikipedia.org`), not the apex     | no (a wildcard never does) |
//! | `127.0.0.1:8080`   | that address on that port (`[::1]:8080` for IPv6)   | yes                        |
//!
//! An empty list (the default) limits nothing: public addresses stay reachable and
//! non-public ones stay refused.

use std::net::IpAddr;

use reqwest::Url;

/// `[network] allow`, parsed. Empty means "no limit" (public addresses only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressAllowList {
    entries: Vec<AllowEntry>,
}

/// One `[network] allow` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    host: HostPattern,
    port: Option<u16>,
    /// As written (lower-cased), for messages.
    written: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this name.
    Name(String),
    /// Any name ending in `.` + this (`*.wikipedia.org`).
    Subdomains(String),
    /// Exactly this address.
    Address(IpAddr),
}

impl EgressAllowList {
    /// Parses every entry; the first bad one is an error naming it and the fix.
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<Self, String> {
        let entries = entries
            .into_iter()
            .map(|entry| AllowEntry::parse(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { entries })
    }

    /// True when no entry is set: `web_fetch` is not limited beyond its address policy.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// The entries as written, comma-separated, for messages.
    pub fn describe(&self) -> String {
        self.entries
            .iter()
            .map(|entry| entry.written.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The first entry that lets `host` (a name or an address, lower-case, IPv6
    /// without brackets) be reached on `port`.
    pub fn permitting(&self, host: &str, port: u16) -> Option<&AllowEntry> {
        self.entries.iter().find(|entry| entry.matches(host, port))
    }

    /// Whether `url`'s host and port are on the list (false for an empty list).
    pub fn permits_url(&self, url: &Url) -> bool {
        url_host_port(url).is_some_and(|(host, port)| self.permitting(&host, port).is_some())
    }

    /// Whether an entry names `host` exactly (not by a wildcard): then its addresses
    /// may be loopback or private ones.
    pub fn opens_addresses_of(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.entries.iter().any(|entry| match &entry.host {
            HostPattern::Name(name) => *name == host,
            HostPattern::Address(address) => host.parse::<IpAddr>().ok() == Some(*address),
            HostPattern::Subdomains(_) => false,
        })
    }
}

impl AllowEntry {
    /// `example.org`, `example.org:8443`, `*.wikipedia.org`, `127.0.0.1:8080`, `[::1]:8080`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let written = text.trim().to_ascii_lowercase();
        let bad = |why: &str| {
            Err(format!(
                "[network] allow entry '{text}': {why}; write a host name (\"example.org\"), a wildcard (\"*.example.org\") or an address with a port (\"127.0.0.1:8080\")"
            ))
        };
        if written.is_empty() {
            return bad("it is empty");
        }
        if written.contains("://") || written.contains('/') {
            return bad("it is a URL, not a host");
        }
        let (host, port) = match split_port(&written) {
            Ok(split) => split,
            Err(why) => return bad(why),
        };
        let pattern = if let Some(domain) = host.strip_prefix("*.") {
            if !is_host_name(domain) {
                return bad("the part after '*.' is not a host name");
            }
            HostPattern::Subdomains(domain.to_string())
        } else if let Ok(address) = host.parse::<IpAddr>() {
            HostPattern::Address(address)
        } else if host.contains('*') {
            return bad("a wildcard may only start the entry, as in \"*.example.org\"");
        } else if is_host_name(host) {
            HostPattern::Name(host.trim_end_matches('.').to_string())
        } else {
            return bad("it is not a host name or an address");
        };
        Ok(Self {
            host: pattern,
            port,
            written,
        })
    }

    /// As written in config.toml.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|wanted| wanted != port) {
            return false;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match &self.host {
            HostPattern::Name(name) => *name == host,
            HostPattern::Subdomains(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            HostPattern::Address(address) => host.parse::<IpAddr>().ok() == Some(*address),
        }
    }
}

/// `host[:port]` or `[v6][:port]` split; the port must be a number.
fn split_port(text: &str) -> Result<(&str, Option<u16>), &'static str> {
    let parse_port = |port: &str| port.parse::<u16>().map_err(|_| "the port is not a number");
    if let Some(rest) = text.strip_prefix('[') {
        let Some((address, after)) = rest.split_once(']') else {
            return Err("an IPv6 address in brackets lacks its ']'");
        };
        return match after.strip_prefix(':') {
            Some(port) => Ok((address, Some(parse_port(port)?))),
            None if after.is_empty() => Ok((address, None)),
            None => Err("unexpected text after ']'"),
        };
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 address: no port.
        return Ok((text, None));
    }
    match text.split_once(':') {
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((text, None)),
    }
}

/// Letters, digits and hyphens in dot-separated labels (a trailing dot allowed).
fn is_host_name(text: &str) -> bool {
    let text = text.trim_end_matches('.');
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// A URL's host (lower-case, IPv6 without brackets) and port (the scheme's default when
/// none is written).
pub fn url_host_port(url: &Url) -> Option<(String, u16)> {
    let host = url.host_str()?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some((host, url.port_or_known_default()?))
}

/// The host and port of `raw` as `web_fetch` would parse it (trimmed; http and https
/// only), or `None` when it is no such URL (the tool refuses those itself).
pub fn fetch_target(raw: &str) -> Option<(String, u16)> {
    let url = Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url_host_port(&url)
}

/// The host names and addresses a piece of text names: hosts of URLs, bare names with
/// a dot (`example.org`, `docs.rs/page`), the domains of e-mail addresses, IPv4
/// addresses and `localhost`; lower-case, each once. Used for "the hosts the person
/// named in this turn".
pub fn hosts_named_in(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let separators = |c: char| c.is_whitespace() || "\"'`<>()[]{},;|\\".contains(c);
    for token in text.split(separators) {
        let token = token.trim_matches(|c: char| ".:!?*".contains(c));
        if token.is_empty() {
            continue;
        }
        let host = if token.contains("://") {
            match Url::parse(token) {
                Ok(url) => url_host_port(&url).map(|(host, _)| host),
                Err(_) => None,
            }
        } else {
            let before_path = token.split(['/', '?', '#']).next().unwrap_or("");
            let after_user = before_path.rsplit('@').next().unwrap_or("");
            let host = after_user.split(':').next().unwrap_or("");
            Some(host.trim_end_matches('.').to_ascii_lowercase())
        };
        let Some(host) = host else { continue };
        let sentence_break = host_before_sentence_break(token);
        for host in [Some(host), sentence_break].into_iter().flatten() {
            if looks_like_host(&host) && !found.contains(&host) {
                found.push(host);
            }
        }
    }
    found
}

/// The host in a token where a sentence ran on without a space (`www.example.com.They`):
/// the labels before the first one that starts with a capital after lower-case labels.
/// Host names ignore case, so the whole token is kept as a host as well; this only adds
/// what the person literally wrote.
fn host_before_sentence_break(token: &str) -> Option<String> {
    if token.contains("://") || token.contains('@') {
        return None;
    }
    let labels: Vec<&str> = token.split('.').collect();
    let first_capital = labels
        .iter()
        .skip(2)
        .position(|label| label.starts_with(|c: char| c.is_ascii_uppercase()))?
        + 2;
    let before = &labels[..first_capital];
    if before
        .iter()
        .any(|label| label.chars().any(|c| c.is_ascii_uppercase()))
    {
        return None;
    }
    Some(before.join("."))
}

/// A name with at least two labels ending in letters, an IP address, or `localhost`.
fn looks_like_host(host: &str) -> bool {
    if host == "localhost" || host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let last = host.rsplit('.').next().unwrap_or("");
    host.contains('.')
        && is_host_name(host)
        && last.len() >= 2
        && last.chars().all(|c| c.is_ascii_alphabetic())
}

/// Whether `host` is `named` or a subdomain of it.
pub fn host_is_within(host: &str, named: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == named
        || host
            .strip_suffix(named)
            .is_some_and(|rest| rest.ends_with('.') && named.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> EgressAllowList {
        EgressAllowList::parse(entries).unwrap()
    }

    #[test]
    fn entries_match_names_wildcards_addresses_and_ports() {
        let allow = list(&[
            "example.org",
            "*.wikipedia.org",
            "127.0.0.1:8080",
            "[::1]:9",
            "api.test:8443",
        ]);
        assert!(allow.permitting("example.org", 443).is_some());
        assert!(allow.permitting("EXAMPLE.org.", 80).is_some());
        assert!(allow.permitting("www.example.org", 443).is_none());
        assert!(allow.permitting("en.wikipedia.org", 443).is_some());
        assert!(allow.permitting("wikipedia.org", 443).is_none());
        assert!(allow.permitting("evilwikipedia.org", 443).is_none());
        assert!(allow.permitting("127.0.0.1", 8080).is_some());
        assert!(allow.permitting("127.0.0.1", 8081).is_none());
        assert!(allow.permitting("::1", 9).is_some());
        assert!(allow.permitting("api.test", 8443).is_some());
        assert!(allow.permitting("api.test", 443).is_none());
        assert_eq!(
            allow.describe(),
            "example.org, *.wikipedia.org, 127.0.0.1:8080, [::1]:9, api.test:8443"
        );
    }

    #[test]
    fn only_exact_entries_open_non_public_addresses() {
        let allow = list(&["router.lan", "*.corp.test", "127.0.0.1:8080"]);
        assert!(allow.opens_addresses_of("router.lan"));
        assert!(allow.opens_addresses_of("127.0.0.1"));
        assert!(!allow.opens_addresses_of("x.corp.test"));
        assert!(!allow.opens_addresses_of("127.0.0.2"));
    }

    #[test]
    fn bad_entries_are_refused_with_the_fix() {
        for bad in [
            "",
            "https://example.org/",
            "*",
            "ex*ample.org",
            "a b",
            "x:port",
        ] {
            let err = EgressAllowList::parse([bad]).unwrap_err();
            assert!(err.contains("write a host name"), "{bad}: {err}");
        }
    }

    #[test]
    fn hosts_named_in_a_message_are_found() {
        let text =
            "Summarise https://News.example.com/a?b=1 and docs.rs/tokio, mail bob@mail.test; \
                    also see 127.0.0.1:8080/x, localhost and (en.wikipedia.org). Not notes or v1.2";
        assert_eq!(
            hosts_named_in(text),
            [
                "news.example.com",
                "docs.rs",
                "mail.test",
                "127.0.0.1",
                "localhost",
                "en.wikipedia.org"
            ]
        );
        assert_eq!(
            hosts_named_in("Read www.our-company.com.They say it is new"),
            ["www.our-company.com.they", "www.our-company.com"]
        );
        assert_eq!(hosts_named_in("see Example.Org now"), ["example.org"]);
        assert!(host_is_within("a.docs.rs", "docs.rs"));
        assert!(!host_is_within("evildocs.rs", "docs.rs"));
    }
}
