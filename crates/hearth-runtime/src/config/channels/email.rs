//! `[channels.email]`: a mailbox read by IMAP and written by SMTP (`host:port` each),
//! its password as a `secret:NAME` reference, who may write to it, and whether mail
//! must be authenticated by the user's own server (a `From:` alone can be forged).

use serde::Deserialize;
use toml::Spanned;

use super::super::ConfigError;
use super::DEFAULT_MAX_FILE_BYTES;

/// `[channels.email]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmailFile {
    imap: Spanned<String>,
    smtp: Spanned<String>,
    username: Spanned<String>,
    password: Spanned<String>,
    address: Spanned<String>,
    #[serde(default)]
    allowed_senders: Vec<Spanned<String>>,
    tls: Option<Spanned<String>>,
    #[serde(default)]
    require_authenticated: bool,
    authserv_id: Option<Spanned<String>>,
    max_file_bytes: Option<u64>,
    poll_timeout_secs: Option<Spanned<u64>>,
}

/// How both connections are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTlsMode {
    /// TLS from the first byte (IMAPS, SMTPS); the default.
    Tls,
    /// `STARTTLS` on a plain port, required.
    StartTls,
    /// No encryption; loopback servers only.
    None,
}

/// `[channels.email]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    /// (host, port) of the IMAP server.
    pub imap: (String, u16),
    /// (host, port) of the SMTP (submission) server.
    pub smtp: (String, u16),
    pub username: String,
    /// A `secret:NAME` reference.
    pub password: String,
    /// The agent's own address (`From:` of replies).
    pub address: String,
    /// Addresses always admitted (lower-case).
    pub allowed_senders: Vec<String>,
    pub tls: EmailTlsMode,
    pub require_authenticated: bool,
    /// The `authserv-id` of the user's own server in `Authentication-Results`.
    pub authserv_id: String,
    pub max_file_bytes: u64,
    /// How long one IDLE (or one pause between polls) lasts.
    pub poll_timeout_secs: u64,
}

fn is_address(text: &str) -> bool {
    text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
    })
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn host_port(
    value: &Spanned<String>,
    key: &str,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<(String, u16), ConfigError> {
    let text = value.get_ref().trim();
    let parsed = text
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .filter(|(host, port)| !host.is_empty() && *port != 0);
    match parsed {
        Some((host, port)) => Ok((host.to_string(), port)),
        None => Err(ConfigError(format!(
            "{}: [channels.email] {key} = {text:?} is not \"host:port\"; write it like \
             \"imap.example.org:993\"",
            at(value.span())
        ))),
    }
}

pub(super) fn email(
    file: EmailFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<EmailConfig, ConfigError> {
    let imap = host_port(&file.imap, "imap", at)?;
    let smtp = host_port(&file.smtp, "smtp", at)?;
    let password = file.password.get_ref().trim();
    if hearth_secrets::secret_reference(password).is_none_or(str::is_empty) {
        return Err(ConfigError(format!(
            "{}: [channels.email] password must be a secret reference; store it with \
             `hearth secrets set email` and write password = \"secret:email\"",
            at(file.password.span())
        )));
    }
    let address = file.address.get_ref().trim().to_ascii_lowercase();
    if !is_address(&address) {
        return Err(ConfigError(format!(
            "{}: [channels.email] address = {address:?} is not an email address",
            at(file.address.span())
        )));
    }
    let mut allowed_senders = Vec::new();
    for sender in &file.allowed_senders {
        let text = sender.get_ref().trim().to_ascii_lowercase();
        if !is_address(&text) {
            return Err(ConfigError(format!(
                "{}: [channels.email] allowed_senders: {text:?} is not an email address",
                at(sender.span())
            )));
        }
        allowed_senders.push(text);
    }
    let tls = match &file.tls {
        None => EmailTlsMode::Tls,
        Some(mode) => match mode.get_ref().as_str() {
            "tls" => EmailTlsMode::Tls,
            "starttls" => EmailTlsMode::StartTls,
            "none" => {
                if let Some(host) = [&imap.0, &smtp.0].into_iter().find(|h| !is_loopback(h)) {
                    return Err(ConfigError(format!(
                        "{}: [channels.email] tls = \"none\" would send the password and \
                         mail unencrypted to {host}; it is only allowed for servers on \
                         this machine (loopback: 127.0.0.1, ::1, localhost). Use \"tls\" or \"starttls\"",
                        at(mode.span())
                    )));
                }
                EmailTlsMode::None
            }
            other => {
                return Err(ConfigError(format!(
                    "{}: [channels.email] tls = {other:?}; use \"tls\" (ports 993/465), \
                     \"starttls\" (143/587) or \"none\" (loopback only)",
                    at(mode.span())
                )))
            }
        },
    };
    let authserv_id = file
        .authserv_id
        .as_ref()
        .map(|id| id.get_ref().trim().to_string())
        .unwrap_or_default();
    if file.require_authenticated && authserv_id.is_empty() {
        return Err(ConfigError(format!(
            "{}: [channels.email] require_authenticated = true needs authserv_id, the name \
             your own mail server writes first in Authentication-Results (such as \
             \"mx.example.org\")",
            at(file.address.span())
        )));
    }
    let poll_timeout_secs = match file.poll_timeout_secs {
        Some(secs) if !(1..=1500).contains(secs.get_ref()) => {
            return Err(ConfigError(format!(
                "{}: [channels.email] poll_timeout_secs = {}; use 1 to 1500 (IDLE must be \
                 renewed within 29 minutes)",
                at(secs.span()),
                secs.get_ref()
            )))
        }
        Some(secs) => *secs.get_ref(),
        None => 300,
    };
    Ok(EmailConfig {
        imap,
        smtp,
        username: file.username.get_ref().trim().to_string(),
        password: password.to_string(),
        address,
        allowed_senders,
        tls,
        require_authenticated: file.require_authenticated,
        authserv_id,
        max_file_bytes: file.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES),
        poll_timeout_secs,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::super::Config;
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    const BASE: &str = "[channels.email]\nimap = \"imap.example.org:993\"\n\
        smtp = \"smtp.example.org:465\"\nusername = \"bot\"\npassword = \"secret:email\"\n\
        address = \"Bot@Example.org\"\n";

    #[test]
    fn email_takes_servers_a_login_and_senders() {
        let config = parse(&format!("{BASE}allowed_senders = [\"Me@Example.org\"]\n")).unwrap();
        let email = config.channels.email.unwrap();
        assert_eq!(email.imap, ("imap.example.org".to_string(), 993));
        assert_eq!(email.smtp.1, 465);
        assert_eq!(email.address, "bot@example.org");
        assert_eq!(email.allowed_senders, vec!["me@example.org".to_string()]);
        assert_eq!(email.tls, EmailTlsMode::Tls);
        assert!(!email.require_authenticated);
    }

    #[test]
    fn email_mistakes_name_the_line_and_the_fix() {
        let plain = parse(&format!("{BASE}tls = \"none\"\n")).unwrap_err();
        assert!(
            plain.0.contains("line 7") && plain.0.contains("loopback"),
            "{plain}"
        );
        let local = parse(
            "[channels.email]\nimap = \"127.0.0.1:143\"\nsmtp = \"localhost:25\"\n\
             username = \"bot\"\npassword = \"secret:email\"\naddress = \"bot@x.org\"\n\
             tls = \"none\"\n",
        )
        .unwrap();
        assert_eq!(local.channels.email.unwrap().tls, EmailTlsMode::None);
        let literal = parse(&BASE.replace("secret:email", "hunter2")).unwrap_err();
        assert!(literal.0.contains("hearth secrets set"), "{literal}");
        let port = parse(&BASE.replace("imap.example.org:993", "imap.example.org")).unwrap_err();
        assert!(port.0.contains("host:port"), "{port}");
        let auth = parse(&format!("{BASE}require_authenticated = true\n")).unwrap_err();
        assert!(auth.0.contains("authserv_id"), "{auth}");
    }
}
