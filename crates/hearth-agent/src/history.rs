//! The history a turn replays: the latest compaction summary (if any) and the stored
//! messages after it, each with its sequence number, plus where it may be cut when the
//! older part is compacted (never between a tool call and its results).

use hearth_protocol::Message;
use hearth_store::ResumeContext;

/// The message that carries a compaction summary in requests, with `{{summary}}`.
pub const SUMMARY_TEMPLATE: &str = include_str!("../prompts/compact_summary.md");

/// The summary as the one message that stands for the compacted part in requests.
pub fn summary_message(summary: &str) -> Message {
    Message::user(SUMMARY_TEMPLATE.replace("{{summary}}", summary.trim()))
}

/// What the next request is built from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct History {
    /// The latest compaction summary, which stands for the messages before `messages`.
    pub summary: Option<String>,
    /// Stored messages after the summary, with their sequence numbers.
    pub messages: Vec<(i64, Message)>,
}

impl From<ResumeContext> for History {
    fn from(context: ResumeContext) -> Self {
        History {
            summary: context.checkpoint.map(|checkpoint| checkpoint.summary),
            messages: context.messages,
        }
    }
}

impl History {
    pub fn push(&mut self, seq: i64, message: Message) {
        self.messages.push((seq, message));
    }

    /// The messages a request replays: the summary message first, then every stored
    /// message a provider should see again.
    pub fn replayed(&self) -> Vec<Message> {
        self.summary
            .iter()
            .map(|summary| summary_message(summary))
            .chain(
                self.messages
                    .iter()
                    .map(|(_, message)| message)
                    .filter(|message| message.is_replayed())
                    .map(Message::for_model),
            )
            .collect()
    }

    /// Replaces the messages before `cut` by `summary`.
    pub fn compact(&mut self, cut: usize, summary: String) {
        self.messages.drain(..cut.min(self.messages.len()));
        self.summary = Some(summary);
    }
}

/// Where the older part of `messages` ends for compaction: the start of the
/// `keep_recent_turns`-th latest user turn; when that leaves nothing to compact, or
/// the kept part alone weighs more than `max_kept_tokens` (by `estimate`), the start of
/// the latest model step (its assistant message). A cut is always at a user or
/// assistant message, so every tool call before it has its results before it.
/// `None` when nothing before the last step can be compacted.
pub(crate) fn cut_point(
    messages: &[(i64, Message)],
    keep_recent_turns: usize,
    max_kept_tokens: u64,
    estimate: impl Fn(&[(i64, Message)]) -> u64,
) -> Option<usize> {
    let boundaries: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(index, (_, message))| *index > 0 && !matches!(message, Message::Tool(_)))
        .map(|(index, _)| index)
        .collect();
    let turn_starts: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter(|(_, (_, message))| matches!(message, Message::User { .. }))
        .map(|(index, _)| index)
        .collect();
    let by_turns = turn_starts
        .len()
        .checked_sub(keep_recent_turns.max(1))
        .and_then(|index| turn_starts.get(index))
        .copied()
        .filter(|cut| *cut > 0);
    match by_turns {
        Some(cut) if estimate(&messages[cut..]) <= max_kept_tokens => Some(cut),
        _ => boundaries.last().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolCall, ToolResult};

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "read_file".into(),
            arguments: "{}".into(),
        }
    }

    fn transcript() -> Vec<(i64, Message)> {
        let messages = vec![
            Message::user("turn 1"),
            Message::assistant("", vec![call("a"), call("b")]),
            Message::Tool(ToolResult::ok(&call("a"), "A")),
            Message::Tool(ToolResult::ok(&call("b"), "B")),
            Message::assistant("done 1", vec![]),
            Message::user("turn 2"),
            Message::assistant("", vec![call("c")]),
            Message::Tool(ToolResult::ok(&call("c"), "C")),
        ];
        (1..).zip(messages).collect()
    }

    #[test]
    fn the_cut_keeps_the_recent_turns_and_never_splits_a_call_from_its_results() {
        let messages = transcript();
        let cut = cut_point(&messages, 1, u64::MAX, |_| 0);
        assert_eq!(cut, Some(5));
        // Too heavy to keep whole: the latest step is kept, with its result.
        let cut = cut_point(&messages, 1, 10, |kept| kept.len() as u64 * 10);
        assert_eq!(cut, Some(6));
        // More turns to keep than there are: still the latest step.
        assert_eq!(cut_point(&messages, 5, u64::MAX, |_| 0), Some(6));
        assert_eq!(cut_point(&messages[..1], 1, u64::MAX, |_| 0), None);
    }

    #[test]
    fn the_summary_comes_first_and_stands_for_the_compacted_part() {
        let mut history = History {
            summary: None,
            messages: transcript(),
        };
        history.compact(5, "the summary".into());
        let replayed = history.replayed();
        assert_eq!(replayed.len(), 4);
        assert_eq!(replayed[0], summary_message("the summary"));
        assert_eq!(replayed[1], Message::user("turn 2"));
        assert_eq!(history.messages[0].0, 6);
    }
}
