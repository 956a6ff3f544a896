//! `[channels.telegram]`: the chat channels `hearth serve` runs (token as a
//! `secret:NAME` reference, resolved only when the gateway starts the channel).

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

mod email;
mod matrix;
pub use email::{EmailConfig, EmailTlsMode};
pub use matrix::{MatrixConfig, MatrixLogin};

/// The Bot API's public address, the default `api_base`.
pub const TELEGRAM_API_BASE: &str = "https://api.telegram.org";
/// Largest received file saved to `workspace/inbox/` unless `max_file_bytes` says.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;

/// `[channels]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChannelsFile {
    telegram: Option<Spanned<TelegramFile>>,
    matrix: Option<matrix::MatrixFile>,
    email: Option<email::EmailFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TelegramFile {
    token: Spanned<String>,
    api_base: Option<String>,
    #[serde(default)]
    allowed_users: Vec<i64>,
    max_file_bytes: Option<u64>,
    poll_timeout_secs: Option<Spanned<u64>>,
}

/// `[channels]`, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelsConfig {
    pub telegram: Option<TelegramConfig>,
    /// `[channels.matrix]`.
    pub matrix: Option<MatrixConfig>,
    /// `[channels.email]`.
    pub email: Option<EmailConfig>,
}

/// `[channels.telegram]`.
#[derive(Clone, PartialEq)]
pub struct TelegramConfig {
    /// `secret:NAME` (or, discouraged, the token itself).
    pub token: String,
    pub api_base: String,
    /// Telegram user ids always admitted.
    pub allowed_users: Vec<i64>,
    pub max_file_bytes: u64,
    /// How long one `getUpdates` long poll waits on the server.
    pub poll_timeout_secs: u64,
}

impl std::fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.token.starts_with(hearth_secrets::SECRET_PREFIX) {
            self.token.as_str()
        } else {
            "[literal token]"
        };
        f.debug_struct("TelegramConfig")
            .field("token", &token)
            .field("api_base", &self.api_base)
            .field("allowed_users", &self.allowed_users)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("poll_timeout_secs", &self.poll_timeout_secs)
            .finish()
    }
}

pub(super) fn channels(
    file: ChannelsFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<ChannelsConfig, ConfigError> {
    let mut config = ChannelsConfig::default();
    if let Some(telegram) = file.telegram {
        config.telegram = Some(telegram_channel(telegram, at)?);
    }
    if let Some(matrix) = file.matrix {
        config.matrix = Some(matrix::matrix(matrix, at)?);
    }
    if let Some(email) = file.email {
        config.email = Some(email::email(email, at)?);
    }
    Ok(config)
}

fn telegram_channel(
    telegram: Spanned<TelegramFile>,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<TelegramConfig, ConfigError> {
    let span = telegram.span();
    let telegram = telegram.into_inner();
    let token = telegram.token.get_ref().trim().to_string();
    if token.is_empty() {
        return Err(ConfigError(format!(
            "{}: [channels.telegram] token is empty; store the bot token with \
             `hearth secrets set telegram` and write token = \"secret:telegram\"",
            at(telegram.token.span())
        )));
    }
    let poll_timeout_secs = match telegram.poll_timeout_secs {
        Some(secs) if *secs.get_ref() > 50 => {
            return Err(ConfigError(format!(
                "{}: [channels.telegram] poll_timeout_secs = {} is longer than Telegram \
                 holds a request (50 s); use 1 to 50",
                at(secs.span()),
                secs.get_ref()
            )))
        }
        Some(secs) => *secs.get_ref(),
        None => 30,
    };
    let api_base = telegram
        .api_base
        .unwrap_or_else(|| TELEGRAM_API_BASE.to_string());
    if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
        return Err(ConfigError(format!(
            "{}: [channels.telegram] api_base = {api_base:?} is not an http(s) URL",
            at(span)
        )));
    }
    Ok(TelegramConfig {
        token,
        api_base,
        allowed_users: telegram.allowed_users,
        max_file_bytes: telegram.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES),
        poll_timeout_secs,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Config;
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("config.toml"), &|_| None)
    }

    #[test]
    fn telegram_takes_a_secret_reference_and_defaults_to_the_public_api() {
        let config =
            parse("[channels.telegram]\ntoken = \"secret:telegram\"\nallowed_users = [7, 8]\n")
                .unwrap();
        let telegram = config.channels.telegram.unwrap();
        assert_eq!(telegram.token, "secret:telegram");
        assert_eq!(telegram.api_base, TELEGRAM_API_BASE);
        assert_eq!(telegram.allowed_users, vec![7, 8]);
        assert_eq!(telegram.max_file_bytes, DEFAULT_MAX_FILE_BYTES);
        assert!(parse("").unwrap().channels.telegram.is_none());
    }

    #[test]
    fn telegram_mistakes_name_the_line_and_the_fix() {
        let empty = parse("[channels.telegram]\ntoken = \"\"\n").unwrap_err();
        assert!(
            empty.0.contains("line 2") && empty.0.contains("hearth secrets set"),
            "{empty}"
        );
        let typo =
            parse("[channels.telegram]\ntoken = \"secret:t\"\nallowed_user = [1]\n").unwrap_err();
        assert!(typo.0.contains("allowed_user"), "{typo}");
        let poll = parse("[channels.telegram]\ntoken = \"secret:t\"\npoll_timeout_secs = 90\n")
            .unwrap_err();
        assert!(poll.0.contains("1 to 50"), "{poll}");
    }

    #[test]
    fn a_literal_token_is_not_shown_in_debug_output() {
        let config = parse("[channels.telegram]\ntoken = \"123:ABCDEF\"\n").unwrap();
        let shown = format!("{:?}", config.channels);
        assert!(!shown.contains("ABCDEF"), "{shown}");
    }
}
