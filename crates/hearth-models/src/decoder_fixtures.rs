//! Data-driven tests for both stream decoders: every `tests/fixtures/<wire>/*.sse` body is
//! decoded, in chunks of several sizes, and what came out (events, then the response or
//! the error) must equal `*.expected.json` beside it. Run with `HEARTH_UPDATE_SNAPSHOTS=1` to
//! write missing or changed expectations, then review the diff.

use std::path::{Path, PathBuf};

use hearth_protocol::StreamEvent;
use serde_json::{json, Value};

use crate::anthropic::AnthropicWire;
use crate::limits::ResponseLimits;
use crate::openai::OpenAiWire;
use crate::sse::SseParser;
use crate::transport::{StreamDecoder, WireError, WireFormat};

fn event_json(event: &StreamEvent) -> Value {
    match event {
        StreamEvent::TextDelta(text) => json!({"text": text}),
        StreamEvent::ToolCallStart { index, id, name } => json!({"start": [index, id, name]}),
        StreamEvent::ToolCallArgs { index, fragment } => json!({"args": [index, fragment]}),
        StreamEvent::Retry { .. } => json!({"retry": "unexpected"}),
    }
}

/// Decodes `body` fed in chunks of `chunk_size` bytes, the way the transport does.
fn decode<W: WireFormat>(wire: &W, body: &[u8], chunk_size: usize) -> Value {
    let mut parser = SseParser::default();
    let mut decoder = wire.new_decoder(ResponseLimits::default());
    let mut events = Vec::new();
    let mut emit = |event: StreamEvent| events.push(event_json(&event));
    let mut outcome = Value::Null;
    'chunks: for chunk in body.chunks(chunk_size).map(Some).chain([None]) {
        let sse_events = match chunk {
            Some(chunk) => parser.push(chunk),
            None => parser.finish(),
        }
        .expect("fixtures stay within the SSE event limit");
        for sse_event in sse_events {
            if let Err(error) = decoder.on_event(&sse_event, &mut emit) {
                outcome = match error {
                    WireError::Malformed(cause) => json!({"malformed": cause}),
                    WireError::Reported { message, retryable } => {
                        json!({"reported": message, "retryable": retryable})
                    }
                    WireError::TooLarge { part, limit } => {
                        json!({"too_large": part.limit_field(), "limit": limit})
                    }
                };
                break 'chunks;
            }
            if decoder.is_done() {
                break 'chunks;
            }
        }
    }
    if outcome.is_null() {
        outcome = if decoder.is_done() || decoder.is_complete_without_terminator() {
            let response = decoder.finish(&mut emit);
            json!({"response": response})
        } else {
            json!({"interrupted": "no terminator"})
        };
    }
    json!({"events": events, "outcome": outcome})
}

fn fixture_files(wire_name: &str) -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(wire_name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "sse"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", directory.display());
    files
}

fn check_fixtures<W: WireFormat>(wire: &W, wire_name: &str) {
    for path in fixture_files(wire_name) {
        let body = std::fs::read(&path).unwrap();
        let decoded = decode(wire, &body, body.len().max(1));
        for chunk_size in [1, 3, 17] {
            assert_eq!(
                decode(wire, &body, chunk_size),
                decoded,
                "{} decodes differently in chunks of {chunk_size}",
                path.display()
            );
        }
        let text = serde_json::to_string_pretty(&decoded).unwrap() + "\n";
        hearth_testkit::snapshot::assert_matches(path.with_extension("expected.json"), &text);
    }
}

#[test]
fn openai_stream_fixtures_decode_as_expected() {
    check_fixtures(&OpenAiWire, "openai");
}

#[test]
fn anthropic_stream_fixtures_decode_as_expected() {
    check_fixtures(&AnthropicWire, "anthropic");
}
