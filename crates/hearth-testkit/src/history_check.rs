//! The check the server runs on every request it records: in the history a client
//! sends, every tool call has exactly one result, results come in call order, and no
//! result answers a call the history does not hold. Both wire formats.

use serde_json::Value;

use crate::server::Wire;

/// What is wrong with one request's history, in words a failing test can show.
/// Empty when the history is well formed (or carries no tool calls at all).
///
/// The results after an assistant message answer that message's calls, in call order,
/// until the next assistant message: ids are matched within that span, so a model that
/// reuses an id in a later step is not a violation.
pub(crate) fn history_problems(wire: Wire, body: &Value) -> Vec<String> {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mentions = match wire {
        Wire::OpenAi => openai_mentions(messages),
        Wire::Anthropic => anthropic_mentions(messages),
    };
    let mut problems = Vec::new();
    let mut open: Vec<Mention> = Vec::new();
    let mut assistant_message = None;
    for mention in mentions {
        match mention.kind {
            Kind::Call => {
                if assistant_message != Some(mention.message) {
                    unanswered(&mut open, &mut problems);
                    assistant_message = Some(mention.message);
                }
                if open.iter().any(|call| call.id == mention.id) {
                    problems.push(format!(
                        "tool call id {:?} is used twice in message {}",
                        mention.id, mention.message
                    ));
                }
                open.push(mention);
            }
            Kind::Result => match open.iter().position(|call| call.id == mention.id) {
                Some(0) => {
                    open.remove(0);
                }
                Some(position) => {
                    problems.push(format!(
                        "the result for tool call {:?} (message {}) is not in call order: {:?} comes first",
                        mention.id, mention.message, open[0].id
                    ));
                    open.remove(position);
                }
                None => problems.push(format!(
                    "the tool result for {:?} (message {}) answers no open call (its call is missing, or it was answered already)",
                    mention.id, mention.message
                )),
            },
        }
    }
    unanswered(&mut open, &mut problems);
    problems
}

/// Reports every call still open as unanswered and forgets them.
fn unanswered(open: &mut Vec<Mention>, problems: &mut Vec<String>) {
    for call in open.drain(..) {
        problems.push(format!(
            "tool call {:?} (message {}) has no result",
            call.id, call.message
        ));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Result,
}

/// A tool call or result: its id and the index of the message that holds it.
struct Mention {
    kind: Kind,
    id: String,
    message: usize,
}

fn id_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// OpenAI: `assistant.tool_calls[].id` and `role: "tool"` messages' `tool_call_id`,
/// in history order.
fn openai_mentions(messages: &[Value]) -> Vec<Mention> {
    let mut mentions = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        match message.get("role").and_then(Value::as_str) {
            Some("assistant") => {
                let listed = message.get("tool_calls").and_then(Value::as_array);
                for call in listed.into_iter().flatten() {
                    mentions.push(Mention {
                        kind: Kind::Call,
                        id: id_of(call, "id"),
                        message: index,
                    });
                }
            }
            Some("tool") => mentions.push(Mention {
                kind: Kind::Result,
                id: id_of(message, "tool_call_id"),
                message: index,
            }),
            _ => {}
        }
    }
    mentions
}

/// Anthropic: `tool_use` blocks (assistant) and `tool_result` blocks (user), in
/// history order.
fn anthropic_mentions(messages: &[Value]) -> Vec<Mention> {
    let mut mentions = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let blocks = message.get("content").and_then(Value::as_array);
        for block in blocks.into_iter().flatten() {
            match block.get("type").and_then(Value::as_str) {
                Some("tool_use") => mentions.push(Mention {
                    kind: Kind::Call,
                    id: id_of(block, "id"),
                    message: index,
                }),
                Some("tool_result") => mentions.push(Mention {
                    kind: Kind::Result,
                    id: id_of(block, "tool_use_id"),
                    message: index,
                }),
                _ => {}
            }
        }
    }
    mentions
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(id: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": "x", "arguments": "{}"}})
    }

    #[test]
    fn a_well_formed_history_has_no_problems_even_when_a_later_step_reuses_an_id() {
        let body = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": [call("a"), call("b")]},
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
            {"role": "assistant", "content": null, "tool_calls": [call("a")]},
            {"role": "tool", "tool_call_id": "a", "content": "again"}]});
        assert_eq!(history_problems(Wire::OpenAi, &body), Vec::<String>::new());
    }

    #[test]
    fn unanswered_out_of_order_duplicate_and_orphan_results_are_named() {
        let body = json!({"messages": [
            {"role": "assistant", "content": null, "tool_calls": [call("a"), call("b"), call("c")]},
            {"role": "tool", "tool_call_id": "b", "content": "2"},
            {"role": "tool", "tool_call_id": "a", "content": "1"},
            {"role": "tool", "tool_call_id": "a", "content": "1 again"},
            {"role": "tool", "tool_call_id": "zz", "content": "?"}]});
        assert_eq!(
            history_problems(Wire::OpenAi, &body),
            [
                "the result for tool call \"b\" (message 1) is not in call order: \"a\" comes first",
                "the tool result for \"a\" (message 3) answers no open call (its call is missing, or it was answered already)",
                "the tool result for \"zz\" (message 4) answers no open call (its call is missing, or it was answered already)",
                "tool call \"c\" (message 0) has no result",
            ]
        );
    }

    #[test]
    fn a_call_left_open_when_the_next_step_starts_is_unanswered() {
        let body = json!({"messages": [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "u", "name": "x", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "u", "content": "1"},
                {"type": "tool_result", "tool_use_id": "t", "content": "late"}]}]});
        assert_eq!(
            history_problems(Wire::Anthropic, &body),
            [
                "tool call \"t\" (message 0) has no result",
                "the tool result for \"t\" (message 2) answers no open call (its call is missing, or it was answered already)",
            ]
        );
    }
}
