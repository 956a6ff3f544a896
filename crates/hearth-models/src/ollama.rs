//! Recognises an Ollama server behind an `openai:` base URL and reads the context
//! window its requests will really get: Ollama's `/v1` cannot set `num_ctx`, and a
//! conversation longer than the window loses its oldest messages without an error.
//!
//! The reading, most reliable first (Ollama's docs, "Context length"):
//! 1. `GET /api/ps`: the window of the model as it is loaded now (`context_length`,
//!    newer releases); this includes `OLLAMA_CONTEXT_LENGTH` and the VRAM-based default.
//! 2. `POST /api/show`: a Modelfile `PARAMETER num_ctx`, which wins over the server's
//!    default when the model loads.
//! 3. Otherwise the server's default, which the API does not expose: 2,048 tokens
//!    before v0.6.7, 4,096 after (v0.15.5 and later pick 4k, 32k or 256k by VRAM; 4k is
//!    assumed, the smallest), unless `OLLAMA_CONTEXT_LENGTH` is set on the server.
//!
//! Every reading is capped by the model's own maximum (`<arch>.context_length` in
//! `model_info`). `/api/show` also gives the model's own `temperature` and `top_p`,
//! which `/v1` ignores unless a request sends them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::Sampling;

/// Tokens one agent turn needs at least: the fixed prompt and tool schemas plus a
/// typical tool result. Below this, Hearth warns.
pub const TURN_TOKENS_NEEDED: u32 = 16_384;

/// How long each probe request may take; a server that is slower is not probed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The most of a probe answer read (`/api/show` carries the model's template and
/// licence); a longer one is not Ollama's.
const MAX_PROBE_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What an Ollama server says about itself and one of its models.
#[derive(Debug, Clone, PartialEq)]
pub struct OllamaInfo {
    /// The server's version (`/api/version`).
    pub version: String,
    /// The context window, in tokens, that requests for the model get.
    pub context_length: u32,
    /// Where `context_length` was read.
    pub source: WindowSource,
    /// The most the model itself supports (`<arch>.context_length`), when known.
    pub model_max: Option<u32>,
    /// The model's Modelfile `temperature` and `top_p` (`/api/show`), when set.
    pub sampling: Sampling,
}

/// What probing a base URL found.
#[derive(Debug, Clone, PartialEq)]
pub enum Detection {
    /// An Ollama server, and what it says of the model.
    Ollama(OllamaInfo),
    /// A server answered `/api/version` with something other than Ollama's answer.
    NotOllama,
    /// Nothing answered in time: not worth remembering.
    Unreachable,
}

impl Detection {
    /// What the Ollama server said, if it was one.
    pub fn into_ollama(self) -> Option<OllamaInfo> {
        match self {
            Detection::Ollama(info) => Some(info),
            Detection::NotOllama | Detection::Unreachable => None,
        }
    }
}

/// Hosted OpenAI-compatible APIs that are never Ollama: not probed.
const HOSTED_OPENAI_HOSTS: &[&str] = &["api.openai.com", "openrouter.ai", "api.deepseek.com"];

/// Whether `base_url` is a hosted API that is never Ollama (OpenAI, OpenRouter,
/// DeepSeek, or any of their subdomains), so not worth a probe. A URL that does not
/// parse is not hosted.
pub fn is_hosted_api(base_url: &str) -> bool {
    url_host(base_url).is_some_and(|host| {
        HOSTED_OPENAI_HOSTS
            .iter()
            .any(|hosted| host == *hosted || host.ends_with(&format!(".{hosted}")))
    })
}

/// The host of a URL, lowercased, without port or credentials.
pub fn url_host(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    parsed.host_str().map(str::to_ascii_lowercase)
}

/// Where a context window reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSource {
    /// `/api/ps`: the model is loaded with this window now.
    Loaded,
    /// `/api/show`: the model's Modelfile sets `num_ctx`.
    Modelfile,
    /// Neither: the server's default for its version is assumed.
    ServerDefault,
}

impl WindowSource {
    /// A short phrase for messages: where the number comes from.
    pub fn describe(self) -> &'static str {
        match self {
            WindowSource::Loaded => "as the model is loaded now (/api/ps)",
            WindowSource::Modelfile => "from the model's Modelfile num_ctx (/api/show)",
            WindowSource::ServerDefault => {
                "Ollama's default, assumed: OLLAMA_CONTEXT_LENGTH is invisible until the model is loaded"
            }
        }
    }
}

/// The server's root for an OpenAI-style base URL: `http://host:11434/v1` →
/// `http://host:11434`.
pub fn server_root(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    base.strip_suffix("/v1").unwrap_or(base).to_string()
}

/// Asks the server behind `base_url` whether it is Ollama and, if so, the window
/// `model` gets. `None` when it is not Ollama (or does not answer within a few
/// seconds). Never fails otherwise: what the server leaves out is assumed.
pub async fn probe(base_url: &str, model: &str) -> Option<OllamaInfo> {
    detect(base_url, model).await.into_ollama()
}

/// [`probe`], telling a server that is not Ollama from one that did not answer.
pub async fn detect(base_url: &str, model: &str) -> Detection {
    let Ok(client) = reqwest::Client::builder()
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT)
        .build()
    else {
        return Detection::Unreachable;
    };
    let root = server_root(base_url);
    let Ok(mut response) = client.get(format!("{root}/api/version")).send().await else {
        return Detection::Unreachable;
    };
    if !response.status().is_success() {
        return Detection::NotOllama;
    }
    let version = match read_json(&mut response).await {
        Ok(Some(body)) => body["version"].as_str().map(str::to_string),
        Ok(None) => None,
        Err(Unanswered) => return Detection::Unreachable,
    };
    let Some(version) = version else {
        return Detection::NotOllama;
    };
    let shown = get_json(
        client
            .post(format!("{root}/api/show"))
            .json(&json!({"model": model})),
    )
    .await;
    let running = get_json(client.get(format!("{root}/api/ps"))).await;
    Detection::Ollama(read_window(
        version,
        shown.as_ref(),
        running.as_ref(),
        model,
    ))
}

/// Decides the window from the answers of `/api/show` and `/api/ps` (either may be
/// missing).
pub fn read_window(
    version: String,
    shown: Option<&Value>,
    running: Option<&Value>,
    model: &str,
) -> OllamaInfo {
    let model_max = shown.and_then(model_max_from_show);
    let loaded = running.and_then(|running| loaded_context_length(running, model));
    let modelfile = shown.and_then(num_ctx_from_show);
    let (window, source) = match (loaded, modelfile) {
        (Some(loaded), _) => (loaded, WindowSource::Loaded),
        (None, Some(num_ctx)) => (num_ctx, WindowSource::Modelfile),
        (None, None) => (
            default_context_length(&version),
            WindowSource::ServerDefault,
        ),
    };
    OllamaInfo {
        context_length: model_max.map_or(window, |max| window.min(max)),
        version,
        source,
        model_max,
        sampling: shown
            .and_then(|shown| shown["parameters"].as_str())
            .map(Sampling::from_ollama_parameters)
            .unwrap_or_default(),
    }
}

/// Ollama's default window for `version`: 2,048 before v0.6.7, 4,096 since (the
/// smallest of the VRAM-based defaults of v0.15.5 and later).
pub fn default_context_length(version: &str) -> u32 {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    if (major, minor, patch) < (0, 6, 7) {
        2048
    } else {
        4096
    }
}

/// A one-line warning when the window is smaller than a request of about
/// `estimated_tokens` or than [`TURN_TOKENS_NEEDED`]; `None` when it is large enough.
pub fn window_warning(info: &OllamaInfo, model: &str, estimated_tokens: u64) -> Option<String> {
    let window = u64::from(info.context_length);
    let fix = "raise it with `OLLAMA_CONTEXT_LENGTH=32768 ollama serve` or `PARAMETER num_ctx 32768` in a Modelfile";
    if estimated_tokens > window {
        return Some(format!(
            "Ollama {} gives {model} a context window of {window} tokens ({}), but this request is about {estimated_tokens} tokens: Ollama will silently drop its oldest messages (the task, then the instructions) — {fix}",
            info.version,
            info.source.describe()
        ));
    }
    (window < u64::from(TURN_TOKENS_NEEDED)).then(|| {
        format!(
            "Ollama {} gives {model} a context window of {window} tokens ({}), below the ~{TURN_TOKENS_NEEDED} a turn with tool results needs: Ollama silently drops the oldest messages when it overflows — {fix}",
            info.version,
            info.source.describe()
        )
    })
}

/// Tokens a request of `chars` characters takes, roughly (4 characters a token).
pub fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

async fn get_json(request: reqwest::RequestBuilder) -> Option<Value> {
    let mut response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    read_json(&mut response).await.ok().flatten()
}

/// The body stopped coming (a timeout or a dropped connection).
struct Unanswered;

/// The body as JSON; `Ok(None)` when it is not JSON or too long to be Ollama's.
async fn read_json(response: &mut reqwest::Response) -> Result<Option<Value>, Unanswered> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| Unanswered)? {
        if body.len() + chunk.len() > MAX_PROBE_BODY_BYTES {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&body).ok())
}

fn as_window(value: &Value) -> Option<u32> {
    let tokens = value
        .as_u64()
        .or_else(|| value.as_f64().map(|number| number as u64))?;
    u32::try_from(tokens).ok().filter(|tokens| *tokens > 0)
}

/// `model_info["<arch>.context_length"]`, with `<arch>` from `general.architecture`
/// (any `*.context_length` key when that is missing).
fn model_max_from_show(shown: &Value) -> Option<u32> {
    let info = shown["model_info"].as_object()?;
    if let Some(arch) = info.get("general.architecture").and_then(Value::as_str) {
        if let Some(max) = info.get(&format!("{arch}.context_length")) {
            return as_window(max);
        }
    }
    info.iter()
        .find(|(key, _)| key.ends_with(".context_length"))
        .and_then(|(_, value)| as_window(value))
}

/// `num_ctx N` from the `parameters` text of `/api/show` (one `name value` a line).
fn num_ctx_from_show(shown: &Value) -> Option<u32> {
    shown["parameters"].as_str()?.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("num_ctx"))
            .then(|| words.next()?.parse::<u32>().ok())
            .flatten()
            .filter(|tokens| *tokens > 0)
    })
}

/// The `context_length` of `model` in `/api/ps`, if it is loaded and the server is
/// new enough to say.
fn loaded_context_length(running: &Value, model: &str) -> Option<u32> {
    let tagged = format!("{model}:latest");
    running["models"].as_array()?.iter().find_map(|entry| {
        let names = [entry["name"].as_str(), entry["model"].as_str()];
        names
            .iter()
            .flatten()
            .any(|name| *name == model || *name == tagged)
            .then(|| as_window(&entry["context_length"]))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(parameters: &str, max: u32) -> Value {
        json!({
            "parameters": parameters,
            "model_info": {"general.architecture": "llama", "llama.context_length": max}
        })
    }

    #[test]
    fn the_loaded_window_wins_then_the_modelfile_then_the_default() {
        let shown = show("stop \"<|eot_id|>\"\nnum_ctx 8192", 131_072);
        let running = json!({"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest", "context_length": 32768}]});
        let loaded = read_window("0.12.0".into(), Some(&shown), Some(&running), "llama3.2");
        assert_eq!(
            (loaded.context_length, loaded.source),
            (32768, WindowSource::Loaded)
        );
        assert_eq!(loaded.model_max, Some(131_072));
        let modelfile = read_window("0.12.0".into(), Some(&shown), None, "llama3.2");
        assert_eq!(
            (modelfile.context_length, modelfile.source),
            (8192, WindowSource::Modelfile)
        );
        let plain = read_window("0.12.0".into(), Some(&show("", 131_072)), None, "x");
        assert_eq!(
            (plain.context_length, plain.source),
            (4096, WindowSource::ServerDefault)
        );
        let small_model = read_window(
            "0.12.0".into(),
            Some(&show("num_ctx 65536", 2048)),
            None,
            "x",
        );
        assert_eq!(small_model.context_length, 2048);
    }

    #[test]
    fn old_servers_default_to_2048_tokens() {
        assert_eq!(default_context_length("0.5.13"), 2048);
        assert_eq!(default_context_length("0.6.6"), 2048);
        assert_eq!(default_context_length("0.6.7"), 4096);
        assert_eq!(default_context_length("v0.15.5-rc1"), 4096);
        assert_eq!(default_context_length("garbage"), 2048);
    }

    #[test]
    fn warnings_say_what_is_wrong_and_how_to_raise_the_window() {
        let info = read_window("0.12.0".into(), None, None, "m");
        let small = window_warning(&info, "m", 1000).unwrap();
        assert!(
            small.contains("4096") && small.contains("OLLAMA_CONTEXT_LENGTH=32768"),
            "{small}"
        );
        let over = window_warning(&info, "m", 5000).unwrap();
        assert!(over.contains("about 5000 tokens"), "{over}");
        let roomy = OllamaInfo {
            context_length: 32768,
            ..info
        };
        assert_eq!(window_warning(&roomy, "m", 1000), None);
        assert!(window_warning(&roomy, "m", 40_000).is_some());
    }

    #[test]
    fn the_modelfile_sampling_is_read_from_show() {
        let shown = show("temperature 0.6\ntop_p 0.95\nstop \"x\"", 8192);
        let info = read_window("0.12.0".into(), Some(&shown), None, "m");
        assert_eq!(
            info.sampling,
            Sampling {
                temperature: Some(0.6),
                top_p: Some(0.95)
            }
        );
        assert!(read_window("0.12.0".into(), None, None, "m")
            .sampling
            .is_empty());
    }

    #[test]
    fn hosted_apis_are_known_by_their_parsed_host() {
        for hosted in [
            "https://api.openai.com/v1",
            "https://OpenRouter.ai/api/v1",
            "https://eu.api.deepseek.com:443/v1",
            "https://user:pw@api.openai.com/v1",
        ] {
            assert!(is_hosted_api(hosted), "{hosted}");
        }
        for local in [
            "http://localhost:11434/v1",
            "http://api.openai.com.evil.example/v1",
            "http://[::1]:11434/v1",
            "not a url",
        ] {
            assert!(!is_hosted_api(local), "{local}");
        }
        assert_eq!(url_host("http://[::1]:8080/v1").as_deref(), Some("[::1]"));
    }

    #[test]
    fn the_root_drops_the_v1_suffix() {
        assert_eq!(
            server_root("http://localhost:11434/v1/"),
            "http://localhost:11434"
        );
        assert_eq!(server_root("http://h:1"), "http://h:1");
    }
}
