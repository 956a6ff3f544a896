//! Remembers what the Ollama probe found, per base URL and model, for a day, in a file
//! the caller names (the runtime: `$HEARTH_HOME/cache/ollama-probe.json`): without it
//! every `openai:` run against a server that is not a hosted API sends
//! `GET /api/version` (and `/api/show`, `/api/ps` on Ollama) before its first request.
//! A server that did not answer is not remembered; a file that does not parse is
//! probed again and rewritten.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::ollama::{self, Detection, OllamaInfo, WindowSource};
use crate::Sampling;

/// How long an answer is trusted: long enough that runs in a row probe once, short
/// enough that a changed server (a new Modelfile, another model loaded) is seen the
/// next day. `hearth doctor` always probes afresh.
pub const PROBE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The format of the file; another number is ignored and rewritten.
const FORMAT: u64 = 1;

/// The probe answers remembered in one file.
#[derive(Debug, Clone)]
pub struct ProbeCache {
    path: PathBuf,
    ttl: Duration,
}

impl ProbeCache {
    /// Answers kept in `path` for [`PROBE_TTL`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ProbeCache {
            path: path.into(),
            ttl: PROBE_TTL,
        }
    }

    /// The same, trusting answers for `ttl`.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The remembered answer for `model` behind `base_url`, if one is younger than the
    /// TTL (a blocking read of a small file).
    pub fn remembered(&self, base_url: &str, model: &str) -> Option<Detection> {
        let entries = read_entries(&self.path);
        let entry = entries.get(&key(base_url, model))?;
        let checked = entry["checked_at"].as_u64()?;
        let age = now_secs().saturating_sub(checked);
        if age > self.ttl.as_secs() {
            return None;
        }
        match &entry["ollama"] {
            Value::Null => Some(Detection::NotOllama),
            info => info_from_json(info).map(Detection::Ollama),
        }
    }

    /// The remembered answer, else a fresh probe (remembered unless nothing answered).
    pub async fn detect(&self, base_url: &str, model: &str) -> Detection {
        let cache = self.clone();
        let (url, name) = (base_url.to_string(), model.to_string());
        let remembered = tokio::task::spawn_blocking(move || cache.remembered(&url, &name))
            .await
            .ok()
            .flatten();
        if let Some(detection) = remembered {
            return detection;
        }
        self.refresh(base_url, model).await
    }

    /// Probes afresh and remembers the answer (unless nothing answered).
    pub async fn refresh(&self, base_url: &str, model: &str) -> Detection {
        let detection = ollama::detect(base_url, model).await;
        if detection != Detection::Unreachable {
            let cache = self.clone();
            let (url, name, found) = (base_url.to_string(), model.to_string(), detection.clone());
            let written =
                tokio::task::spawn_blocking(move || cache.remember(&url, &name, &found)).await;
            if let Ok(Err(error)) = written {
                tracing::debug!("could not remember the Ollama probe: {error}");
            }
        }
        detection
    }

    /// Writes `detection` for `model` behind `base_url`, dropping expired entries
    /// (atomically: a temporary file renamed over the old one).
    fn remember(&self, base_url: &str, model: &str, detection: &Detection) -> std::io::Result<()> {
        let now = now_secs();
        let mut entries = read_entries(&self.path);
        entries.retain(|_, entry| {
            entry["checked_at"]
                .as_u64()
                .is_some_and(|checked| now.saturating_sub(checked) <= self.ttl.as_secs())
        });
        let ollama = match detection {
            Detection::Ollama(info) => info_to_json(info),
            Detection::NotOllama | Detection::Unreachable => Value::Null,
        };
        entries.insert(
            key(base_url, model),
            json!({"checked_at": now, "ollama": ollama}),
        );
        let text = json!({"format": FORMAT, "entries": entries}).to_string();
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &self.path)
    }
}

fn key(base_url: &str, model: &str) -> String {
    format!("{} {model}", ollama::server_root(base_url))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn read_entries(path: &Path) -> Map<String, Value> {
    let Ok(text) = std::fs::read(path) else {
        return Map::new();
    };
    match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(mut file)) if file.get("format") == Some(&json!(FORMAT)) => {
            match file.remove("entries") {
                Some(Value::Object(entries)) => entries,
                _ => Map::new(),
            }
        }
        _ => Map::new(),
    }
}

fn info_to_json(info: &OllamaInfo) -> Value {
    let source = match info.source {
        WindowSource::Loaded => "loaded",
        WindowSource::Modelfile => "modelfile",
        WindowSource::ServerDefault => "server_default",
    };
    json!({
        "version": info.version,
        "context_length": info.context_length,
        "source": source,
        "model_max": info.model_max,
        "temperature": info.sampling.temperature,
        "top_p": info.sampling.top_p,
    })
}

fn info_from_json(value: &Value) -> Option<OllamaInfo> {
    let source = match value["source"].as_str()? {
        "loaded" => WindowSource::Loaded,
        "modelfile" => WindowSource::Modelfile,
        "server_default" => WindowSource::ServerDefault,
        _ => return None,
    };
    let small = |field: &str| {
        value[field]
            .as_u64()
            .and_then(|number| u32::try_from(number).ok())
    };
    Some(OllamaInfo {
        version: value["version"].as_str()?.to_string(),
        context_length: small("context_length")?,
        source,
        model_max: small("model_max"),
        sampling: Sampling {
            temperature: value["temperature"].as_f64(),
            top_p: value["top_p"].as_f64(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> OllamaInfo {
        OllamaInfo {
            version: "0.12.3".into(),
            context_length: 4096,
            source: WindowSource::ServerDefault,
            model_max: Some(131_072),
            sampling: Sampling {
                temperature: Some(0.7),
                top_p: None,
            },
        }
    }

    #[test]
    fn answers_are_remembered_per_server_and_model_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ProbeCache::new(dir.path().join("cache/ollama-probe.json"));
        let url = "http://127.0.0.1:11434/v1/";
        assert_eq!(cache.remembered(url, "llama3"), None);
        cache
            .remember(url, "llama3", &Detection::Ollama(info()))
            .unwrap();
        cache
            .remember("http://10.0.0.2:8000/v1", "qwen", &Detection::NotOllama)
            .unwrap();
        assert_eq!(
            cache.remembered("http://127.0.0.1:11434", "llama3"),
            Some(Detection::Ollama(info()))
        );
        assert_eq!(
            cache.remembered("http://10.0.0.2:8000/v1", "qwen"),
            Some(Detection::NotOllama)
        );
        assert_eq!(cache.remembered(url, "other"), None);
        let expired = cache.clone().with_ttl(Duration::ZERO);
        let mut entries = read_entries(&cache.path);
        for entry in entries.values_mut() {
            entry["checked_at"] = json!(now_secs() - 10);
        }
        std::fs::write(
            &cache.path,
            json!({"format": FORMAT, "entries": entries}).to_string(),
        )
        .unwrap();
        assert_eq!(expired.remembered(url, "llama3"), None);
    }

    #[test]
    fn a_damaged_file_is_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ollama-probe.json");
        std::fs::write(&path, "{not json").unwrap();
        let cache = ProbeCache::new(&path);
        assert_eq!(cache.remembered("http://h:1", "m"), None);
        cache
            .remember("http://h:1", "m", &Detection::NotOllama)
            .unwrap();
        assert_eq!(
            cache.remembered("http://h:1", "m"),
            Some(Detection::NotOllama)
        );
    }
}
