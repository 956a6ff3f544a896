//! Helpers shared by the integration tests: posting to the server with reqwest and
//! taking server-sent events apart the way a client would.

#![allow(dead_code)]

use serde_json::Value;

/// One server-sent event: its `event:` name (Anthropic) and its `data:` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

pub async fn post(url: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Splits an SSE body into events; every event must end with a blank line.
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated event: {text:?}"
    );
    text.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_string());
                } else if let Some(payload) = line.strip_prefix("data: ") {
                    data.push_str(payload);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            SseEvent { event, data }
        })
        .collect()
}

/// Reads a body chunk by chunk until it ends; returns the text received and whether
/// the body ended in an error (a dropped connection) rather than cleanly.
pub async fn read_body(mut response: reqwest::Response) -> (String, bool) {
    let mut received = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => return (String::from_utf8(received).unwrap(), false),
            Err(_) => return (String::from_utf8(received).unwrap(), true),
        }
    }
}
