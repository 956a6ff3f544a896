//! The gateway token (created once in `$HEARTH_HOME/gateway.token`, 0600) and the two
//! checks every request meets: a page from another origin is refused (403), and every
//! route but `GET /health` needs the token (401), compared in constant time.
//!
//! Browsers cannot set headers on a WebSocket, so `/api/events` also takes the token as
//! a `Sec-WebSocket-Protocol` value `bearer.TOKEN` (offered next to `hearth.events`,
//! which the gateway selects).

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::{AppState, GatewayError};

/// The variable whose value, when set, is the token instead of the file's.
pub const TOKEN_ENV: &str = "HEARTH_GATEWAY_TOKEN";
/// The token's file name in `$HEARTH_HOME`.
pub const TOKEN_FILE: &str = "gateway.token";
/// The WebSocket subprotocol prefix that carries the token.
pub(crate) const WS_TOKEN_PREFIX: &str = "bearer.";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the gateway token {path}: {source}; delete it to have a new one made")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot create the gateway token {path}: {source}; check that HEARTH_HOME is writable"
    )]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the gateway token {path} can be read by other users (mode {mode:o}); run \
         `chmod 600 {path}` or delete it to have a new one made"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("the gateway token {path} is empty; delete it to have a new one made")]
    EmptyFile { path: PathBuf },
    #[error("HEARTH_GATEWAY_TOKEN is set but shorter than 16 characters; use a longer token")]
    EnvTooShort,
    #[error("the operating system gave no random bytes for the gateway token: {0}")]
    Random(String),
}

/// The secret every request but `/health` must carry.
pub struct GatewayToken(String);

impl GatewayToken {
    /// `env_value` (from [`TOKEN_ENV`]) when given, else the token in
    /// `home/gateway.token`, created (32 random bytes as hex, mode 0600) when missing.
    pub fn load_or_create(home: &Path, env_value: Option<String>) -> Result<Self, TokenError> {
        if let Some(value) = env_value.map(|v| v.trim().to_string()) {
            if value.len() < 16 {
                return Err(TokenError::EnvTooShort);
            }
            return Ok(Self(value));
        }
        let path = home.join(TOKEN_FILE);
        match std::fs::File::open(&path) {
            Ok(file) => Self::read_private(&path, file),
            Err(err) if err.kind() == ErrorKind::NotFound => Self::create(&path),
            Err(source) => Err(TokenError::Read { path, source }),
        }
    }

    /// A token given directly (tests, embedding).
    pub fn from_value(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the token, in time that depends only on their lengths.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    fn read_private(path: &Path, mut file: std::fs::File) -> Result<Self, TokenError> {
        let read_error = |source| TokenError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mode = file.metadata().map_err(read_error)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(TokenError::Exposed {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
        let mut text = String::new();
        Read::by_ref(&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        let token = text.trim();
        if token.is_empty() {
            return Err(TokenError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        Ok(Self(token.to_string()))
    }

    fn create(path: &Path) -> Result<Self, TokenError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| TokenError::Random(err.to_string()))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let create_error = |source| TokenError::Create {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(create_error)?;
        file.write_all(format!("{token}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(create_error)?;
        Ok(Self(token))
    }
}

/// The origins of pages the gateway itself serves: its listen address, and
/// `localhost` / `127.0.0.1` / `[::1]` on its port.
pub(crate) fn own_origins(listen: SocketAddr) -> Vec<String> {
    let port = listen.port();
    let mut origins = vec![
        format!("http://{listen}"),
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ];
    origins.dedup();
    origins
}

/// Refuses (403) a request whose `Origin` is not the gateway's own: a page on another
/// site must not drive the agent, over HTTP or a WebSocket upgrade. Requests without
/// an `Origin` (curl, SDKs) pass on to the token check.
pub(crate) async fn refuse_foreign_origin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(origin) = request.headers().get(ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        if !state
            .origins
            .iter()
            .any(|own| own.eq_ignore_ascii_case(&origin))
        {
            return GatewayError::ForeignOrigin { origin }.into_response();
        }
    }
    next.run(request).await
}

/// Refuses (401) a request without the token.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if presented_tokens(request.headers()).any(|token| state.token.matches(token)) {
        next.run(request).await
    } else {
        GatewayError::Unauthorized.into_response()
    }
}

/// The tokens a request presents: the `Authorization: Bearer` one and any
/// `bearer.TOKEN` WebSocket subprotocol.
fn presented_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let protocols = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|protocol| protocol.trim().strip_prefix(WS_TOKEN_PREFIX));
    bearer.into_iter().chain(protocols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_is_created_private_and_read_back() {
        let home = tempfile::tempdir().unwrap();
        let made = GatewayToken::load_or_create(home.path(), None).unwrap();
        assert_eq!(made.as_str().len(), 64);
        let mode = std::fs::metadata(home.path().join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = GatewayToken::load_or_create(home.path(), None).unwrap();
        assert!(again.matches(made.as_str()));
        assert!(!again.matches("wrong"));
    }

    #[test]
    fn the_environment_overrides_the_file_and_a_readable_file_is_refused() {
        let home = tempfile::tempdir().unwrap();
        let token =
            GatewayToken::load_or_create(home.path(), Some("0123456789abcdef".into())).unwrap();
        assert_eq!(token.as_str(), "0123456789abcdef");
        let path = home.path().join(TOKEN_FILE);
        std::fs::write(&path, "abc\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = GatewayToken::load_or_create(home.path(), None)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }
}
