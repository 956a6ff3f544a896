//! Finding tool calls a crash left unanswered, and where their results belong.
//!
//! A transcript is valid when every assistant tool call is answered by exactly one
//! tool result (matched by `call_id`) placed after the assistant message and before the
//! next assistant message. The loop writes ahead: it stores the assistant message, then
//! each result as its tool finishes, so a crash mid-turn leaves the *last* assistant
//! message with some results missing. Those go at the end of the transcript.
//!
//! Invariant kept here: the missing results go right after the results the assistant
//! message already has. If a transcript was continued without repair (so the
//! interrupted assistant message is no longer the last), the later messages are
//! renumbered to make room — `seq` values are stable except across such a repair.

use std::collections::HashSet;

use hearth_protocol::{Message, ToolResult};

/// The content of the error result that answers a call a crash interrupted.
pub const INTERRUPTED_TOOL_RESULT: &str = "interrupted: the process stopped before this tool \
call finished; it may or may not have taken effect — check before repeating it";

/// Results to insert right after the message numbered `after_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingResults {
    pub(crate) after_seq: i64,
    pub(crate) results: Vec<ToolResult>,
}

/// For each assistant message with unanswered calls, in transcript order: the
/// interrupted results for those calls (in call order) and where they go.
pub(crate) fn missing_tool_results(transcript: &[(i64, Message)]) -> Vec<MissingResults> {
    let mut insertions = Vec::new();
    for (index, (seq, message)) in transcript.iter().enumerate() {
        let Message::Assistant { tool_calls, .. } = message else {
            continue;
        };
        if tool_calls.is_empty() {
            continue;
        }
        let later = &transcript[index + 1..];
        let scope_end = later
            .iter()
            .position(|(_, m)| matches!(m, Message::Assistant { .. }))
            .unwrap_or(later.len());
        let answered: HashSet<&str> = later[..scope_end]
            .iter()
            .filter_map(|(_, m)| match m {
                Message::Tool(result) => Some(result.call_id.as_str()),
                _ => None,
            })
            .collect();
        let results: Vec<ToolResult> = tool_calls
            .iter()
            .filter(|call| !answered.contains(call.id.as_str()))
            .map(|call| ToolResult::error(call, INTERRUPTED_TOOL_RESULT))
            .collect();
        if results.is_empty() {
            continue;
        }
        let after_seq = later
            .iter()
            .take_while(|(_, m)| matches!(m, Message::Tool(_)))
            .last()
            .map_or(*seq, |(result_seq, _)| *result_seq);
        insertions.push(MissingResults { after_seq, results });
    }
    insertions
}

#[cfg(test)]
mod tests {
    use hearth_protocol::ToolCall;

    use super::*;

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "shell".into(),
            arguments: "{}".into(),
        }
    }

    fn numbered(messages: Vec<Message>) -> Vec<(i64, Message)> {
        (1..).zip(messages).collect()
    }

    #[test]
    fn a_complete_transcript_needs_nothing() {
        let transcript = numbered(vec![
            Message::user("hi"),
            Message::assistant("", vec![call("a")]),
            Message::Tool(ToolResult::ok(&call("a"), "done")),
            Message::assistant("bye", vec![]),
        ]);
        assert!(missing_tool_results(&transcript).is_empty());
    }

    #[test]
    fn missing_results_go_after_the_existing_ones_in_call_order() {
        let transcript = numbered(vec![
            Message::user("hi"),
            Message::assistant("", vec![call("a"), call("b"), call("c")]),
            Message::Tool(ToolResult::ok(&call("b"), "done")),
        ]);
        let insertions = missing_tool_results(&transcript);
        assert_eq!(insertions.len(), 1);
        assert_eq!(insertions[0].after_seq, 3);
        let ids: Vec<&str> = insertions[0]
            .results
            .iter()
            .map(|r| r.call_id.as_str())
            .collect();
        assert_eq!(ids, ["a", "c"]);
        assert!(insertions[0].results.iter().all(|r| r.is_error));
        assert_eq!(insertions[0].results[0].content, INTERRUPTED_TOOL_RESULT);
    }

    #[test]
    fn a_call_id_reused_by_a_later_turn_does_not_count_as_an_answer() {
        let transcript = numbered(vec![
            Message::assistant("", vec![call("call_0")]),
            Message::user("are you there?"),
            Message::assistant("", vec![call("call_0")]),
            Message::Tool(ToolResult::ok(&call("call_0"), "done")),
        ]);
        let insertions = missing_tool_results(&transcript);
        assert_eq!(
            insertions,
            vec![MissingResults {
                after_seq: 1,
                results: vec![ToolResult::error(&call("call_0"), INTERRUPTED_TOOL_RESULT)],
            }]
        );
    }
}
