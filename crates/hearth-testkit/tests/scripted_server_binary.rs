//! The `hearth-scripted-server` binary: serves a script file, announces its URL,
//! appends requests to the record file and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use hearth_testkit::{RecordedRequest, Wire};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_hearth-scripted-server");

#[tokio::test]
async fn serves_a_script_file_records_requests_and_stops_on_sigterm() {
    let directory = tempfile::tempdir().unwrap();
    let record = directory.path().join("requests.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example-script.json");
    let mut child = Command::new(BINARY)
        .arg("--script")
        .arg(&script)
        .arg("--record")
        .arg(&record)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base_url = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");

    let body = json!({"model": "claude-test", "max_tokens": 8});
    let answer: Value = reqwest::Client::new()
        .post(format!("{base_url}/v1/messages"))
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["content"][0]["text"], "Hello there.");

    let recorded = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(lines.len(), 1);
    let request: RecordedRequest = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(request.wire, Wire::Anthropic);
    assert_eq!(request.body, body);
    assert_eq!(request.header("x-api-key"), Some("k"));

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "exits cleanly on SIGTERM");
}

#[test]
fn a_bad_script_file_fails_with_a_message_naming_it() {
    let directory = tempfile::tempdir().unwrap();
    let script = directory.path().join("broken.json");
    std::fs::write(&script, r#"{"steps": [{"type": "text"}]}"#).unwrap();
    let output = Command::new(BINARY)
        .arg("--script")
        .arg(&script)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert!(stderr.contains("text"), "{stderr}");
}
