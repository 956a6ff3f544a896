//! An incremental Server-Sent Events parser shared by both wire formats: bytes in, in
//! chunks of any size, events out. Tolerates `\r\n`, `:` comment lines (keep-alives),
//! `event:` lines, multi-line `data:` and fields it does not know.

/// One dispatched event: its `event:` name, if any, and its data lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

#[derive(Debug, Default)]
pub(crate) struct SseParser {
    /// Bytes after the last complete line (a line may be split across chunks, and so
    /// may a multi-byte character).
    partial_line: Vec<u8>,
    event_name: Option<String>,
    data_lines: Vec<String>,
}

impl SseParser {
    /// Feeds the next chunk of the body; returns the events it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let mut buffer = std::mem::take(&mut self.partial_line);
        buffer.extend_from_slice(bytes);
        let mut line_start = 0;
        while let Some(offset) = buffer[line_start..].iter().position(|&byte| byte == b'\n') {
            let line_end = line_start + offset;
            self.process_line(&buffer[line_start..line_end], &mut events);
            line_start = line_end + 1;
        }
        buffer.drain(..line_start);
        self.partial_line = buffer;
        events
    }

    /// The body has ended: a last line without a newline and a last event without a
    /// blank line still count.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let last_line = std::mem::take(&mut self.partial_line);
        if !last_line.is_empty() {
            self.process_line(&last_line, &mut events);
        }
        self.dispatch(&mut events);
        events
    }

    fn process_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(b":") {
            return;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => self.data_lines.push(value.to_string()),
            "event" => self.event_name = Some(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event_name.take();
        if self.data_lines.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.data_lines).join("\n");
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
            events.extend(parser.push(chunk));
        }
        events.extend(parser.finish());
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
}
