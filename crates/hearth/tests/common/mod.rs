//! Shared set-up for the end-to-end tests: a temp `HEARTH_HOME`, the real `hearth`
//! binary pointed at a scripted model server over loopback, and readers for what the
//! server recorded in either wire format.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hearth_testkit::{Personality, RecordedRequest, Script, ScriptedServer, Step};
use serde_json::Value;

/// The wire a test speaks and whether it streams.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    pub provider: &'static str,
    pub stream: bool,
}

pub const ALL_FLAVORS: [Flavor; 4] = [
    Flavor {
        provider: "openai",
        stream: true,
    },
    Flavor {
        provider: "openai",
        stream: false,
    },
    Flavor {
        provider: "anthropic",
        stream: true,
    },
    Flavor {
        provider: "anthropic",
        stream: false,
    },
];

/// A temp `HEARTH_HOME` and the scripted server. The server checks every request's
/// tool-call history (each call answered once, in order, no orphan results) and fails
/// the test when it is dropped with a violation, so no test has to ask.
pub struct TestEnv {
    pub home: tempfile::TempDir,
    pub server: Option<ScriptedServer>,
}

impl TestEnv {
    pub async fn start(steps: Vec<Step>) -> TestEnv {
        let home = tempfile::tempdir().expect("temp HEARTH_HOME");
        std::fs::create_dir_all(home.path().join("workspace")).expect("workspace");
        let server = ScriptedServer::start(Script::new(steps))
            .await
            .expect("scripted server");
        TestEnv {
            home,
            server: Some(server),
        }
    }

    /// Like [`start`](Self::start), with the server imitating `personality`.
    pub async fn start_as(steps: Vec<Step>, personality: Personality) -> TestEnv {
        let home = tempfile::tempdir().expect("temp HEARTH_HOME");
        std::fs::create_dir_all(home.path().join("workspace")).expect("workspace");
        let server = ScriptedServer::start_as(Script::new(steps), personality)
            .await
            .expect("scripted server");
        TestEnv {
            home,
            server: Some(server),
        }
    }

    pub fn server(&self) -> &ScriptedServer {
        self.server.as_ref().expect("server running")
    }

    /// Replaces the script (a new server on a new port), keeping HEARTH_HOME.
    pub async fn restart_server(&mut self, steps: Vec<Step>) {
        if let Some(old) = self.server.take() {
            old.shutdown().await;
        }
        self.server = Some(
            ScriptedServer::start(Script::new(steps))
                .await
                .expect("scripted server"),
        );
    }

    pub fn workspace(&self) -> PathBuf {
        self.home.path().join("workspace")
    }

    pub fn write_config(&self, text: &str) {
        std::fs::write(self.home.path().join("config.toml"), text).expect("config");
    }

    /// `hearth` with this env's home and the scripted server as both providers.
    pub fn command(&self, provider: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("HEARTH_HOME", self.home.path())
            .env("HEARTH_MODEL", format!("{provider}:scripted-model"))
            .env("OPENAI_API_KEY", "sk-test-openai")
            .env("ANTHROPIC_API_KEY", "sk-test-anthropic")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(server) = &self.server {
            cmd.env("OPENAI_BASE_URL", server.openai_base_url())
                .env("ANTHROPIC_BASE_URL", server.base_url());
        }
        cmd
    }

    /// `hearth <args>` for `flavor`: `--no-stream` goes right after `run`/`chat`.
    fn with_args(&self, flavor: Flavor, args: &[&str]) -> tokio::process::Command {
        let mut args: Vec<&str> = args.to_vec();
        if !flavor.stream && matches!(args.first(), Some(&"run") | Some(&"chat")) {
            args.insert(1, "--no-stream");
        }
        let mut cmd = self.command(flavor.provider);
        cmd.args(args);
        cmd
    }

    /// Runs `hearth <args>` to completion.
    pub async fn hearth(&self, flavor: Flavor, args: &[&str]) -> Output {
        let output = self.with_args(flavor, args).output();
        tokio::time::timeout(Duration::from_secs(120), output)
            .await
            .expect("hearth finished within 120 s")
            .expect("hearth ran")
    }

    /// Starts `hearth <args>` in the background (for kill and signal tests).
    pub fn spawn(&self, flavor: Flavor, args: &[&str]) -> tokio::process::Child {
        self.with_args(flavor, args)
            .spawn()
            .expect("hearth started")
    }
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits (bounded) until `path` exists.
pub async fn wait_for_file(path: &Path) {
    for _ in 0..600 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

/// The system text a request carried, in either wire format.
pub fn system_text(request: &RecordedRequest) -> String {
    match &request.body["system"] {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks.iter().filter_map(|b| b["text"].as_str()).collect(),
        _ => request.body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Tool call ids in the order the request's history carries them.
pub fn call_ids(request: &RecordedRequest) -> Vec<String> {
    let mut ids = Vec::new();
    for message in messages(request) {
        if message["role"] != "assistant" {
            continue;
        }
        for call in message["tool_calls"].as_array().into_iter().flatten() {
            ids.push(call["id"].as_str().unwrap_or_default().to_string());
        }
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_use" {
                ids.push(block["id"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    ids
}

/// (call id, result text) pairs in the order the request's history carries them.
pub fn results(request: &RecordedRequest) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for message in messages(request) {
        if message["role"] == "tool" {
            out.push((
                message["tool_call_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                message["content"].as_str().unwrap_or_default().to_string(),
            ));
        }
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                let content = match &block["content"] {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                out.push((
                    block["tool_use_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    content,
                ));
            }
        }
    }
    out
}

/// User texts in order, in either wire format.
/// The user messages' texts, without the `[now: …]` line the runtime appends to each
/// (the current time; see hearth-agent's `now_line`).
pub fn user_texts(request: &RecordedRequest) -> Vec<String> {
    let mut out = Vec::new();
    for message in messages(request) {
        if message["role"] != "user" {
            continue;
        }
        match &message["content"] {
            Value::String(text) => out.push(without_now_line(text)),
            Value::Array(blocks) => out.extend(
                blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str().map(without_now_line)),
            ),
            _ => {}
        }
    }
    out
}

/// `text` without its `\n\n[now: …]` line.
pub fn without_now_line(text: &str) -> String {
    let Some(start) = text.find("\n\n[now: ") else {
        return text.to_string();
    };
    match text[start..].find(']') {
        Some(end) => format!("{}{}", &text[..start], &text[start + end + 1..]),
        None => text.to_string(),
    }
}

pub fn messages(request: &RecordedRequest) -> Vec<Value> {
    request.body["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}
