//! The HTTP side of the Matrix channel: URLs with every path segment encoded, one
//! request helper that turns Matrix errors (`errcode`, `error`, `retry_after_ms`) into
//! [`ChannelError`]s, and logging in with a password on a fixed device (so transaction
//! ids keep deduplicating across restarts). The access token is never logged.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{json, Value};

use crate::channel::ChannelError;

/// A client-server API endpoint: `base` + `/_matrix/client/` + encoded `segments`.
pub fn endpoint(base: &str, segments: &[&str]) -> Result<Url, ChannelError> {
    let mut url = Url::parse(base)
        .map_err(|err| ChannelError::fatal(format!("matrix homeserver {base:?}: {err}")))?;
    {
        let mut path = url.path_segments_mut().map_err(|()| {
            ChannelError::fatal(format!("matrix homeserver {base:?} cannot be a base"))
        })?;
        path.pop_if_empty().push("_matrix").push("client");
        for segment in segments {
            path.push(segment);
        }
    }
    Ok(url)
}

/// Sends a request with the JSON `body` (if any) and bearer `token` (if any); the JSON
/// answer, or the error with whether trying again may help. `what` names the call.
pub async fn call(
    http: &reqwest::Client,
    method: Method,
    url: Url,
    token: Option<&str>,
    body: Option<&Value>,
    timeout: Duration,
    what: &str,
) -> Result<Value, ChannelError> {
    let mut request = http.request(method, url).timeout(timeout);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|err| ChannelError::retryable(format!("matrix {what}: {}", err.without_url())))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|err| ChannelError::retryable(format!("matrix {what}: {}", err.without_url())))?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(answer);
    }
    let errcode = answer["errcode"].as_str().unwrap_or("");
    let error = answer["error"].as_str().unwrap_or("");
    let retry = answer["retry_after_ms"]
        .as_u64()
        .map(|ms| format!(" (retry after {ms} ms)"))
        .unwrap_or_default();
    Err(ChannelError {
        message: format!("matrix {what}: HTTP {status} {errcode} {error}{retry}")
            .trim_end()
            .to_string(),
        retryable: status.as_u16() == 429
            || status.is_server_error()
            || errcode == "M_UNKNOWN_TOKEN",
    })
}

/// Logs in as `user` with `password` on `device_id`; the access token.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    device_id: &str,
) -> Result<String, ChannelError> {
    let body = json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": user },
        "password": password,
        "device_id": device_id,
        "initial_device_display_name": "Hearth",
    });
    let answer = call(
        http,
        Method::POST,
        endpoint(base, &["v3", "login"])?,
        None,
        Some(&body),
        Duration::from_secs(30),
        "login",
    )
    .await?;
    answer["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChannelError::fatal("matrix login: no access_token in the answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        let url = endpoint(
            "http://h:8008/",
            &["v3", "rooms", "!a:h", "send", "m.room.message", "t/1"],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://h:8008/_matrix/client/v3/rooms/!a:h/send/m.room.message/t%2F1"
        );
        let url = endpoint(
            "https://h/base",
            &["v3", "rooms", "#x y?", "typing", "@b:h"],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://h/base/_matrix/client/v3/rooms/%23x%20y%3F/typing/@b:h"
        );
    }
}
