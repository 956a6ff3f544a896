//! `[channels.matrix]`: a Matrix account on a homeserver (client-server API), its
//! password or access token as a `secret:NAME` reference, and who may talk to it.

use serde::Deserialize;
use toml::Spanned;

use super::super::ConfigError;
use super::DEFAULT_MAX_FILE_BYTES;

/// `[channels.matrix]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MatrixFile {
    homeserver: Spanned<String>,
    user: Spanned<String>,
    password: Option<Spanned<String>>,
    access_token: Option<Spanned<String>>,
    #[serde(default)]
    allowed_users: Vec<Spanned<String>>,
    max_file_bytes: Option<u64>,
    poll_timeout_secs: Option<Spanned<u64>>,
}

/// How the account signs in; the value is a `secret:NAME` reference.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixLogin {
    Password(String),
    AccessToken(String),
}

/// `[channels.matrix]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixConfig {
    /// `https://matrix.example.org` (the client-server API's base).
    pub homeserver: String,
    /// The bot's full user id, `@hearth:example.org`.
    pub user: String,
    pub login: MatrixLogin,
    /// Matrix user ids always admitted (`@me:example.org`).
    pub allowed_users: Vec<String>,
    pub max_file_bytes: u64,
    /// How long one `/sync` waits on the server.
    pub poll_timeout_secs: u64,
}

fn is_user_id(id: &str) -> bool {
    id.strip_prefix('@')
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(local, server)| !local.is_empty() && !server.is_empty())
}

pub(super) fn matrix(
    file: MatrixFile,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<MatrixConfig, ConfigError> {
    let homeserver = file.homeserver.get_ref().trim().trim_end_matches('/');
    if !(homeserver.starts_with("https://") || homeserver.starts_with("http://")) {
        return Err(ConfigError(format!(
            "{}: [channels.matrix] homeserver = {homeserver:?} is not an http(s) URL; write \
             the client API's address, such as \"https://matrix.example.org\"",
            at(file.homeserver.span())
        )));
    }
    let user = file.user.get_ref().trim();
    if !is_user_id(user) {
        return Err(ConfigError(format!(
            "{}: [channels.matrix] user = {user:?} is not a full Matrix user id; write it \
             as \"@name:server\"",
            at(file.user.span())
        )));
    }
    let secret = |value: &Spanned<String>, key: &str| -> Result<String, ConfigError> {
        let text = value.get_ref().trim();
        if hearth_secrets::secret_reference(text).is_some_and(|name| !name.is_empty()) {
            Ok(text.to_string())
        } else {
            Err(ConfigError(format!(
                "{}: [channels.matrix] {key} must be a secret reference; store it with \
                 `hearth secrets set matrix` and write {key} = \"secret:matrix\"",
                at(value.span())
            )))
        }
    };
    let login = match (&file.password, &file.access_token) {
        (Some(password), None) => MatrixLogin::Password(secret(password, "password")?),
        (None, Some(token)) => MatrixLogin::AccessToken(secret(token, "access_token")?),
        (Some(_), Some(token)) => {
            return Err(ConfigError(format!(
                "{}: [channels.matrix] has both password and access_token; keep one",
                at(token.span())
            )))
        }
        (None, None) => {
            return Err(ConfigError(format!(
                "{}: [channels.matrix] needs password = \"secret:NAME\" or \
                 access_token = \"secret:NAME\"",
                at(file.user.span())
            )))
        }
    };
    let mut allowed_users = Vec::new();
    for allowed in &file.allowed_users {
        let id = allowed.get_ref().trim();
        if !is_user_id(id) {
            return Err(ConfigError(format!(
                "{}: [channels.matrix] allowed_users: {id:?} is not a full Matrix user id \
                 (\"@name:server\")",
                at(allowed.span())
            )));
        }
        allowed_users.push(id.to_string());
    }
    let poll_timeout_secs = match file.poll_timeout_secs {
        Some(secs) if !(1..=120).contains(secs.get_ref()) => {
            return Err(ConfigError(format!(
                "{}: [channels.matrix] poll_timeout_secs = {}; use 1 to 120",
                at(secs.span()),
                secs.get_ref()
            )))
        }
        Some(secs) => *secs.get_ref(),
        None => 30,
    };
    Ok(MatrixConfig {
        homeserver: homeserver.to_string(),
        user: user.to_string(),
        login,
        allowed_users,
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

    #[test]
    fn matrix_takes_a_homeserver_a_user_and_a_secret_login() {
        let config = parse(
            "[channels.matrix]\nhomeserver = \"https://matrix.example.org/\"\n\
             user = \"@hearth:example.org\"\npassword = \"secret:matrix\"\n\
             allowed_users = [\"@me:example.org\"]\n",
        )
        .unwrap();
        let matrix = config.channels.matrix.unwrap();
        assert_eq!(matrix.homeserver, "https://matrix.example.org");
        assert_eq!(matrix.login, MatrixLogin::Password("secret:matrix".into()));
        assert_eq!(matrix.allowed_users, vec!["@me:example.org".to_string()]);
        assert_eq!(matrix.poll_timeout_secs, 30);
    }

    #[test]
    fn matrix_mistakes_name_the_line_and_the_fix() {
        let base = "[channels.matrix]\nhomeserver = \"https://m.org\"\nuser = \"@h:m.org\"\n";
        let literal = parse(&format!("{base}password = \"hunter2\"\n")).unwrap_err();
        assert!(
            literal.0.contains("line 4") && literal.0.contains("hearth secrets set"),
            "{literal}"
        );
        let both = parse(&format!(
            "{base}password = \"secret:a\"\naccess_token = \"secret:b\"\n"
        ))
        .unwrap_err();
        assert!(both.0.contains("keep one"), "{both}");
        let neither = parse(base).unwrap_err();
        assert!(neither.0.contains("access_token"), "{neither}");
        let user = parse(
            "[channels.matrix]\nhomeserver = \"https://m.org\"\nuser = \"hearth\"\n\
             access_token = \"secret:m\"\n",
        )
        .unwrap_err();
        assert!(user.0.contains("@name:server"), "{user}");
        let allowed = parse(&format!(
            "{base}access_token = \"secret:m\"\nallowed_users = [\"me\"]\n"
        ))
        .unwrap_err();
        assert!(allowed.0.contains("allowed_users"), "{allowed}");
    }
}
