//! The web UI: plain ES modules and CSS from `web/`, embedded in the binary and served
//! at `/` and `/assets/NAME` without the token (the page holds no secret; it asks for
//! the token and sends it on every API call). Every answer carries a content-security
//! policy that allows only the gateway's own scripts, styles and connections (no inline
//! script, no frames, no forms), `nosniff` and no referrer; assets are revalidated
//! (`no-cache`) against an ETag computed at compile time.

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The policy every UI answer carries. `connect-src 'self'` covers the same-origin
/// `ws:` of `/api/events` (CSP level 3, which Chromium and Firefox follow).
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// One embedded file. The page loads every one of them on its first visit.
pub(crate) struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    etag: &'static str,
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $file)),
            etag: {
                const HASH: [u8; 18] = etag_of(include_bytes!(concat!("../web/", $file)));
                match std::str::from_utf8(&HASH) {
                    Ok(text) => text,
                    Err(_) => panic!("the etag is ASCII"),
                }
            },
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the UI.
pub(crate) static ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/assets/style.css", "style.css", "text/css; charset=utf-8"),
    asset!("/assets/app.js", "app.js", JS),
    asset!("/assets/api.js", "api.js", JS),
    asset!("/assets/markdown.js", "markdown.js", JS),
    asset!("/assets/chat.js", "chat.js", JS),
    asset!("/assets/sessions.js", "sessions.js", JS),
    asset!("/assets/pages.js", "pages.js", JS),
    asset!("/assets/icon.svg", "icon.svg", "image/svg+xml"),
];

/// `"` + 16 hex digits of the FNV-1a hash of `bytes` + `"`, at compile time.
const fn etag_of(bytes: &[u8]) -> [u8; 18] {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    let digits = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut n = 0;
    while n < 16 {
        out[1 + n] = digits[((hash >> (60 - 4 * n)) & 0xf) as usize];
        n += 1;
    }
    out
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("/", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("/assets/{name}"), &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.path == path) else {
        return with_policy((StatusCode::NOT_FOUND, "no such file").into_response());
    };
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = asset.body.into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(ETAG, HeaderValue::from_static(asset.etag));
    with_policy(response)
}

fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget for the first load, uncompressed.
    const FIRST_LOAD_BUDGET: usize = 150 * 1024;

    #[test]
    fn the_first_load_stays_under_150_kb() {
        let total: usize = ASSETS.iter().map(|asset| asset.body.len()).sum();
        assert!(
            total <= FIRST_LOAD_BUDGET,
            "the first load is {total} bytes, over the budget of {FIRST_LOAD_BUDGET}"
        );
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let paths: Vec<&str> = ASSETS.iter().map(|asset| asset.path).collect();
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            for (at, _) in text.match_indices("from './") {
                let name: String = text[at + 8..].chars().take_while(|c| *c != '\'').collect();
                let path = format!("/assets/{name}");
                assert!(
                    paths.contains(&path.as_str()),
                    "{} imports {path}",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(!index.contains("<script>"), "inline script in index.html");
        assert!(!index.contains("<style"), "inline style in index.html");
        for handler in [
            "onclick=",
            "onload=",
            "onerror=",
            "onsubmit=",
            "javascript:",
        ] {
            assert!(
                !index.contains(handler),
                "inline handler {handler} in index.html"
            );
        }
    }

    #[test]
    fn etags_differ_for_different_bodies() {
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert_eq!(etag_of(b"a")[0], b'"');
        assert_eq!(etag_of(b"a")[17], b'"');
    }
}
