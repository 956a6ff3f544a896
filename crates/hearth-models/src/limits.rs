//! How much of a model's answer Hearth accepts: [`ResponseLimits`] (text, one SSE event,
//! a whole body, tool calls and their arguments) and the meter the decoders use to stop
//! reading as soon as an answer passes one of them.

use std::fmt;

use hearth_protocol::ModelResponse;

use crate::transport::WireError;

const MIB: usize = 1024 * 1024;

/// The longest answer text accepted. Models stop at 8k–128k output tokens, about
/// 32–512 KB of text; 2 MiB leaves four times the largest of those and still keeps a
/// runaway stream from filling memory and the session store.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 2 * MIB;
/// The longest SSE line, and the most data one SSE event may carry. One event is one
/// JSON chunk, normally under 10 KB; some servers send a whole tool call's arguments
/// in one chunk, so this is above [`DEFAULT_MAX_TOOL_ARGUMENT_BYTES`] with room for
/// JSON escaping.
pub const DEFAULT_MAX_SSE_EVENT_BYTES: usize = 4 * MIB;
/// The largest non-streaming response body: all the text and every call's arguments at
/// their caps, JSON-escaped, fit in it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * MIB;
/// The most tool calls in one answer. Models that call in parallel make a handful,
/// rarely dozens; every call runs and is stored, so a flood must stop before that.
pub const DEFAULT_MAX_TOOL_CALLS: usize = 128;
/// The longest arguments of one tool call (a `write_file` of a large file is the
/// biggest real case).
pub const DEFAULT_MAX_TOOL_ARGUMENT_BYTES: usize = MIB;
/// Text plus every call's id, name and arguments: what one stored assistant message
/// may hold at most.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * MIB;

/// Caps on one model answer. Passing one is an error of its own kind
/// ([`ModelError::ResponseTooLarge`](crate::ModelError::ResponseTooLarge)), never
/// retried; nothing of the answer is returned, so nothing of it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseLimits {
    pub max_text_bytes: usize,
    pub max_sse_event_bytes: usize,
    pub max_body_bytes: usize,
    pub max_tool_calls: usize,
    pub max_tool_argument_bytes: usize,
    pub max_response_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        Self {
            max_text_bytes: DEFAULT_MAX_TEXT_BYTES,
            max_sse_event_bytes: DEFAULT_MAX_SSE_EVENT_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_tool_calls: DEFAULT_MAX_TOOL_CALLS,
            max_tool_argument_bytes: DEFAULT_MAX_TOOL_ARGUMENT_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

/// Which part of an answer passed its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizedPart {
    Text,
    SseEvent,
    Body,
    ToolCalls,
    ToolArguments,
    Response,
}

impl OversizedPart {
    /// The [`ResponseLimits`] field that sets this part's limit.
    pub fn limit_field(self) -> &'static str {
        match self {
            OversizedPart::Text => "max_text_bytes",
            OversizedPart::SseEvent => "max_sse_event_bytes",
            OversizedPart::Body => "max_body_bytes",
            OversizedPart::ToolCalls => "max_tool_calls",
            OversizedPart::ToolArguments => "max_tool_argument_bytes",
            OversizedPart::Response => "max_response_bytes",
        }
    }

    /// What the limit counts: `calls` or `bytes`.
    pub fn unit(self) -> &'static str {
        match self {
            OversizedPart::ToolCalls => "calls",
            _ => "bytes",
        }
    }
}

impl fmt::Display for OversizedPart {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            OversizedPart::Text => "the answer's text",
            OversizedPart::SseEvent => "one server-sent event (or a line without its newline)",
            OversizedPart::Body => "the response body",
            OversizedPart::ToolCalls => "the number of tool calls",
            OversizedPart::ToolArguments => "one tool call's arguments",
            OversizedPart::Response => "the answer (text and tool calls together)",
        })
    }
}

/// Counts an answer as it is assembled and fails as soon as it passes a limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputMeter {
    limits: ResponseLimits,
    text_bytes: usize,
    response_bytes: usize,
}

impl OutputMeter {
    pub fn new(limits: ResponseLimits) -> Self {
        Self {
            limits,
            text_bytes: 0,
            response_bytes: 0,
        }
    }

    /// `added` more bytes of text.
    pub fn add_text(&mut self, added: usize) -> Result<(), WireError> {
        self.text_bytes = self.text_bytes.saturating_add(added);
        check(
            OversizedPart::Text,
            self.text_bytes,
            self.limits.max_text_bytes,
        )?;
        self.add_to_response(added)
    }

    /// A new call, which makes `call_count` calls.
    pub fn add_call(&mut self, call_count: usize) -> Result<(), WireError> {
        check(
            OversizedPart::ToolCalls,
            call_count,
            self.limits.max_tool_calls,
        )
    }

    /// `added` more bytes of a call's id or name.
    pub fn add_label(&mut self, added: usize) -> Result<(), WireError> {
        self.add_to_response(added)
    }

    /// `added` more bytes of one call's arguments, which now hold `call_total` bytes.
    pub fn add_arguments(&mut self, call_total: usize, added: usize) -> Result<(), WireError> {
        check(
            OversizedPart::ToolArguments,
            call_total,
            self.limits.max_tool_argument_bytes,
        )?;
        self.add_to_response(added)
    }

    /// `added` more bytes of the provider's opaque state (reasoning to send back).
    pub fn add_provider_state(&mut self, added: usize) -> Result<(), WireError> {
        self.add_to_response(added)
    }

    fn add_to_response(&mut self, added: usize) -> Result<(), WireError> {
        self.response_bytes = self.response_bytes.saturating_add(added);
        check(
            OversizedPart::Response,
            self.response_bytes,
            self.limits.max_response_bytes,
        )
    }
}

fn check(part: OversizedPart, size: usize, limit: usize) -> Result<(), WireError> {
    if size > limit {
        return Err(WireError::TooLarge { part, limit });
    }
    Ok(())
}

/// Checks a whole (non-streaming) answer against `limits`.
pub(crate) fn check_response(
    answer: &ModelResponse,
    limits: ResponseLimits,
) -> Result<(), WireError> {
    let mut meter = OutputMeter::new(limits);
    meter.add_text(answer.text.len())?;
    for (position, call) in answer.tool_calls.iter().enumerate() {
        meter.add_call(position + 1)?;
        meter.add_label(call.id.len() + call.name.len())?;
        meter.add_arguments(call.arguments.len(), call.arguments.len())?;
    }
    if let Some(state) = &answer.provider_state {
        meter.add_provider_state(crate::openai_reasoning::state_bytes(state))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::ToolCall;

    fn small_limits() -> ResponseLimits {
        ResponseLimits {
            max_text_bytes: 10,
            max_sse_event_bytes: 100,
            max_body_bytes: 100,
            max_tool_calls: 2,
            max_tool_argument_bytes: 8,
            max_response_bytes: 30,
        }
    }

    fn too_large(part: OversizedPart, limit: usize) -> Result<(), WireError> {
        Err(WireError::TooLarge { part, limit })
    }

    #[test]
    fn the_meter_fails_at_the_first_byte_over_each_limit() {
        let mut meter = OutputMeter::new(small_limits());
        assert_eq!(meter.add_text(10), Ok(()));
        assert_eq!(meter.add_text(1), too_large(OversizedPart::Text, 10));

        let mut meter = OutputMeter::new(small_limits());
        assert_eq!(meter.add_call(1), Ok(()));
        assert_eq!(meter.add_arguments(8, 8), Ok(()));
        assert_eq!(
            meter.add_arguments(9, 1),
            too_large(OversizedPart::ToolArguments, 8)
        );
        assert_eq!(meter.add_call(2), Ok(()));
        assert_eq!(meter.add_call(3), too_large(OversizedPart::ToolCalls, 2));

        let mut meter = OutputMeter::new(small_limits());
        assert_eq!(meter.add_text(10), Ok(()));
        assert_eq!(meter.add_label(20), Ok(()));
        assert_eq!(
            meter.add_arguments(1, 1),
            too_large(OversizedPart::Response, 30)
        );
    }

    #[test]
    fn whole_answers_are_checked_like_streamed_ones() {
        let call = |arguments: &str| ToolCall {
            id: "c".into(),
            name: "n".into(),
            arguments: arguments.into(),
        };
        let answer = |text: &str, calls: Vec<ToolCall>| ModelResponse {
            text: text.into(),
            tool_calls: calls,
            ..ModelResponse::default()
        };
        let limits = small_limits();
        assert_eq!(
            check_response(&answer("short", vec![call("{}")]), limits),
            Ok(())
        );
        assert_eq!(
            check_response(&answer("eleven byte", vec![]), limits),
            too_large(OversizedPart::Text, 10)
        );
        assert_eq!(
            check_response(
                &answer("", vec![call("{}"), call("{}"), call("{}")]),
                limits
            ),
            too_large(OversizedPart::ToolCalls, 2)
        );
        assert_eq!(
            check_response(&answer("", vec![call("{\"a\":123}")]), limits),
            too_large(OversizedPart::ToolArguments, 8)
        );
    }
}
