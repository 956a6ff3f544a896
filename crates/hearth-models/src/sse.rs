//! An incremental Server-Sent Events parser shared by both wire formats: bytes in, in
//! chunks of any size, events out. Tolerates `\r\n`, `:` comment lines (keep-alives),
//! `event:` lines, multi-line `data:` and fields it does not know.

use crate::limits::{OversizedPart, DEFAULT_MAX_SSE_EVENT_BYTES};
use crate::transport::WireError;

/// One dispatched event: its `event:` name, if any, and its data lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// The parser never holds more than `max_event_bytes` of one line, nor of one event's
/// data: a line or an event that grows past it is an error as soon as it does, before
/// the rest of it is read.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Bytes after the last complete line (a line may be split across chunks, and so
    /// may a multi-byte character).
    partial_line: Vec<u8>,
    event_name: Option<String>,
    data_lines: Vec<String>,
    /// The bytes in `data_lines`, with the `\n`s that will join them.
    data_bytes: usize,
    max_event_bytes: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(DEFAULT_MAX_SSE_EVENT_BYTES)
    }
}

impl SseParser {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            partial_line: Vec::new(),
            event_name: None,
            data_lines: Vec::new(),
            data_bytes: 0,
            max_event_bytes,
        }
    }

    /// Feeds the next chunk of the body; returns the events it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, WireError> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(offset) = rest.iter().position(|&byte| byte == b'\n') {
            let (line_tail, after) = rest.split_at(offset);
            self.check_size(self.partial_line.len().saturating_add(line_tail.len()))?;
            if self.partial_line.is_empty() {
                self.process_line(line_tail, &mut events)?;
            } else {
                let mut line = std::mem::take(&mut self.partial_line);
                line.extend_from_slice(line_tail);
                self.process_line(&line, &mut events)?;
                line.clear();
                self.partial_line = line;
            }
            rest = &after[1..];
        }
        self.check_size(self.partial_line.len().saturating_add(rest.len()))?;
        self.partial_line.extend_from_slice(rest);
        Ok(events)
    }

    /// The body has ended: a last line without a newline and a last event without a
    /// blank line still count.
    pub fn finish(&mut self) -> Result<Vec<SseEvent>, WireError> {
        let mut events = Vec::new();
        let last_line = std::mem::take(&mut self.partial_line);
        if !last_line.is_empty() {
            self.process_line(&last_line, &mut events)?;
        }
        self.dispatch(&mut events);
        Ok(events)
    }

    fn check_size(&self, size: usize) -> Result<(), WireError> {
        if size > self.max_event_bytes {
            return Err(WireError::TooLarge {
                part: OversizedPart::SseEvent,
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) -> Result<(), WireError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(events);
            return Ok(());
        }
        if line.starts_with(b":") {
            return Ok(());
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                let separator = usize::from(!self.data_lines.is_empty());
                let data_bytes = self.data_bytes + separator + value.len();
                self.check_size(data_bytes)?;
                self.data_bytes = data_bytes;
                self.data_lines.push(value.to_string());
            }
            "event" => self.event_name = Some(value.to_string()),
            // Not standard SSE: llama.cpp's server before late 2025 sent failures as
            // `error: {json}`. Kept as an `error` event carrying that data.
            "error" => {
                self.event_name = Some("error".to_string());
                let separator = usize::from(!self.data_lines.is_empty());
                let data_bytes = self.data_bytes + separator + value.len();
                self.check_size(data_bytes)?;
                self.data_bytes = data_bytes;
                self.data_lines.push(value.to_string());
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event_name.take();
        if self.data_lines.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.data_lines).join("\n");
        self.data_bytes = 0;
        events.push(SseEvent { event, data });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_chunks(input: &str, chunk_size: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in input.as_bytes().chunks(chunk_size) {
            events.extend(parser.push(chunk).unwrap());
        }
        events.extend(parser.finish().unwrap());
        events
    }

    fn event(name: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: name.map(str::to_string),
            data: data.to_string(),
        }
    }

    #[test]
    fn events_come_out_the_same_for_every_chunking() {
        let cases: &[(&str, Vec<SseEvent>)] = &[
            ("data: {\"a\":1}\n\ndata: [DONE]\n\n", vec![event(None, "{\"a\":1}"), event(None, "[DONE]")]),
            ("data: x\r\n\r\ndata: y\r\n\r\n", vec![event(None, "x"), event(None, "y")]),
            (
                ": OPENROUTER PROCESSING\n\ndata: x\n\n: keep-alive\n\n",
                vec![event(None, "x")],
            ),
            (
                "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {}\n\n",
                vec![event(Some("message_start"), "{\"type\":\"message_start\"}"), event(Some("ping"), "{}")],
            ),
            ("data: first\ndata: second\n\n", vec![event(None, "first\nsecond")]),
            ("data:nospace\n\n", vec![event(None, "nospace")]),
            ("id: 7\nretry: 10\ndata: x\n\n", vec![event(None, "x")]),
            ("event: lonely\n\ndata: x\n\n", vec![event(None, "x")]),
            ("data: tail without blank line", vec![event(None, "tail without blank line")]),
            ("data: héllo ✓\n\n", vec![event(None, "héllo ✓")]),
            (
                "error: {\"code\":500}\n\ndata: [DONE]\n\n",
                vec![event(Some("error"), "{\"code\":500}"), event(None, "[DONE]")],
            ),
            ("", vec![]),
        ];
        for (input, expected) in cases {
            for chunk_size in [1, 2, 3, 7, 1000] {
                assert_eq!(
                    &parse_in_chunks(input, chunk_size),
                    expected,
                    "{input:?} in chunks of {chunk_size}"
                );
            }
        }
    }

    fn too_large(limit: usize) -> WireError {
        WireError::TooLarge {
            part: OversizedPart::SseEvent,
            limit,
        }
    }

    #[test]
    fn a_line_without_newline_fails_once_it_passes_the_limit_and_is_not_kept() {
        let mut parser = SseParser::new(64);
        assert_eq!(parser.push(b"data: ").unwrap(), vec![]);
        assert_eq!(parser.push(&[b'a'; 58]).unwrap(), vec![]);
        assert_eq!(parser.push(b"a"), Err(too_large(64)));
        assert!(parser.partial_line.len() <= 64);

        let mut parser = SseParser::new(64);
        let long_line = [b'x'; 1000];
        assert_eq!(parser.push(&long_line), Err(too_large(64)));
        assert!(parser.partial_line.capacity() <= 64);
    }

    #[test]
    fn an_event_of_many_small_data_lines_is_bounded_too() {
        let mut parser = SseParser::new(64);
        let mut outcome = Ok(vec![]);
        for _ in 0..100 {
            outcome = parser.push(b"data: 0123456789\n");
            if outcome.is_err() {
                break;
            }
        }
        assert_eq!(outcome, Err(too_large(64)));
        assert!(parser.data_bytes <= 64);
    }

    #[test]
    fn comments_and_events_at_the_limit_are_fine() {
        let mut parser = SseParser::new(16);
        let mut events = Vec::new();
        for _ in 0..1000 {
            events.extend(parser.push(b": keep-alive\n\n").unwrap());
        }
        events.extend(parser.push(b"data: 0123456789\n\n").unwrap());
        assert_eq!(events, vec![event(None, "0123456789")]);
    }
}

/// Random input: the parser never panics, never holds more than its limit, and what a
/// stream means does not depend on how the network chunked it.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{SseEvent, SseParser};

    /// Events of `body` pushed in pieces cut at `cuts` (positions, any order).
    fn parse_in_pieces(body: &[u8], cuts: &[usize], limit: usize) -> Option<Vec<SseEvent>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
        cuts.sort_unstable();
        let mut parser = SseParser::new(limit);
        let mut events = Vec::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([body.len()]) {
            events.extend(parser.push(&body[from..cut]).ok()?);
            from = cut;
        }
        events.extend(parser.finish().ok()?);
        Some(events)
    }

    /// Lines a server might send, comments, CRLFs and unknown fields among them.
    fn sse_line() -> impl Strategy<Value = String> {
        prop_oneof![
            "data: [ -~]{0,40}",
            "data:[ -~]{0,10}",
            "event: [a-z_]{1,12}",
            ": [ -~]{0,20}",
            "id: [0-9]{1,4}",
            "retry: [0-9]{1,4}",
            "[a-z]{1,6}: [ -~]{0,10}",
            Just(String::new()),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_nor_exceed_the_limit(
            body in proptest::collection::vec(any::<u8>(), 0..4096),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            limit in 1usize..512,
        ) {
            if let Some(events) = parse_in_pieces(&body, &cuts, limit) {
                for event in events {
                    prop_assert!(event.data.len() <= limit);
                }
            }
        }

        #[test]
        fn chunking_does_not_change_the_events(
            lines in proptest::collection::vec(sse_line(), 0..40),
            crlf in any::<bool>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            let newline = if crlf { "\r\n" } else { "\n" };
            let body = lines.iter().map(|line| format!("{line}{newline}")).collect::<String>();
            let whole = parse_in_pieces(body.as_bytes(), &[], 1 << 20);
            let pieces = parse_in_pieces(body.as_bytes(), &cuts, 1 << 20);
            prop_assert_eq!(whole, pieces);
        }
    }
}
