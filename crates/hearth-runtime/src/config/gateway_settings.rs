//! `[gateway]`: `origins = ["http://192.168.1.5:8420"]`, the page origins `hearth serve`
//! accepts besides its own loopback ones (a phone opening the web UI on the LAN).

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// `[gateway]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GatewayFile {
    #[serde(default)]
    origins: Vec<Spanned<String>>,
}

/// `[gateway] origins`, each checked by [`parse_origin`].
pub(super) fn origins(
    file: GatewayFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<Vec<String>, ConfigError> {
    file.origins
        .into_iter()
        .map(|origin| {
            parse_origin(origin.get_ref()).map_err(|why| {
                ConfigError(format!("{}: [gateway] origins: {why}", at(origin.span())))
            })
        })
        .collect()
}

/// `text` as a browser sends it in `Origin`: `http://HOST` or `https://HOST`, with an
/// optional `:PORT`, no path; a trailing `/` is dropped.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim().trim_end_matches('/');
    let host_port = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| format!("{text:?} is not an origin; write it as http://HOST:PORT"))?;
    // `[v6]` or a name/IPv4, then an optional `:PORT`.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, Some("")),
            Some((host, rest)) => (host, rest.strip_prefix(':').filter(|port| !port.is_empty())),
            None => ("", None),
        },
        None => match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port).filter(|port| !port.is_empty())),
            None => (host_port, Some("")),
        },
    };
    let well_formed = !host.is_empty()
        && !host.contains(['/', '?', '#', '@', ' ', '[', ']'])
        && port.is_some_and(|port| port.is_empty() || port.parse::<u16>().is_ok());
    if !well_formed {
        return Err(format!(
            "{text:?} is not an origin; write it as http://HOST:PORT (no path)"
        ));
    }
    Ok(origin.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::parse_origin;
    use crate::config::Config;

    #[test]
    fn gateway_origins_are_read_and_a_bad_one_names_its_line() {
        let parse = |text: &str| Config::parse(text, Path::new("config.toml"), &|_| None);
        let config = parse("[gateway]\norigins = [\"http://192.168.1.5:8420/\"]\n").unwrap();
        assert_eq!(config.gateway_origins, ["http://192.168.1.5:8420"]);
        assert!(parse("").unwrap().gateway_origins.is_empty());
        let error = parse("[gateway]\norigins = [\"192.168.1.5\"]\n")
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("config.toml line 2"), "{error}");
        assert!(error.contains("http://HOST:PORT"), "{error}");
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("http://192.168.1.5:8420/").unwrap(),
            "http://192.168.1.5:8420"
        );
        assert!(parse_origin("https://hearth.lan").is_ok());
        assert!(parse_origin("http://[fe80::1]:8420").is_ok());
        assert!(parse_origin("192.168.1.5:8420").is_err());
        assert!(parse_origin("http://host:8420/path").is_err());
        assert!(parse_origin("http://host:port").is_err());
        assert!(parse_origin("http://").is_err());
        assert!(parse_origin("http://host:").is_err());
        assert!(parse_origin("http://[::1").is_err());
    }
}
