//! A scripted answer as both wire formats see it: its text, tool calls and usage, plus
//! the per-request facts (model name, ids, streaming options) they echo back.

use crate::script::{ScriptUsage, ScriptedCall};

/// The content of one answer, independent of the wire format.
pub(crate) struct Answer<'a> {
    pub text: &'a str,
    pub calls: &'a [ScriptedCall],
    pub usage: ScriptUsage,
    /// The answer stopped at the output token limit (`finish_reason: "length"`,
    /// `stop_reason: "max_tokens"`), in the middle of its last call if it has calls.
    pub cut_off: bool,
}

/// Facts about the request being answered that appear in the response.
pub(crate) struct ReplyContext {
    /// The request's `"model"`, echoed back as real providers do.
    pub model: String,
    /// 1-based number of the request, used to make response ids unique.
    pub number: usize,
    /// Unix seconds, for OpenAI's `created`.
    pub created: u64,
    /// OpenAI's `stream_options.include_usage` was true.
    pub include_usage: bool,
    /// The size of the request body, for the default usage estimate.
    pub request_bytes: usize,
    /// Which server the answers imitate.
    pub personality: crate::Personality,
}

impl Answer<'_> {
    /// The scripted usage, or a deterministic estimate of about four bytes per token
    /// (request body in, text and arguments out) when the step gives none.
    pub fn new<'a>(
        text: &'a str,
        calls: &'a [ScriptedCall],
        usage: Option<ScriptUsage>,
        context: &ReplyContext,
    ) -> Answer<'a> {
        let usage = usage.unwrap_or_else(|| {
            let output_bytes =
                text.len() + calls.iter().map(|call| call.arguments.len()).sum::<usize>();
            ScriptUsage {
                input_tokens: estimate_tokens(context.request_bytes),
                output_tokens: estimate_tokens(output_bytes),
                cached_tokens: 0,
            }
        });
        Answer {
            text,
            calls,
            usage,
            cut_off: false,
        }
    }
}

fn estimate_tokens(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(4).max(1)
}
