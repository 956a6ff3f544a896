//! Turns a [`ModelRequest`] into the chat messages a GGUF chat template renders: the
//! system prompt with the offered tools, the history with tool calls and results.
//!
//! Most small models' templates (ChatML, Gemma, Llama) have no tool role, so tool
//! traffic is rendered as text the Hermes/Qwen way, which the grammar also enforces:
//! - an assistant's calls follow its text as `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>`;
//! - tool results become one `user` message (consecutive results merged) holding one
//!   `<tool_response>\n{"name": …, "content": …}\n</tool_response>` block per result,
//!   with `"error": true` on failures.

use hearth_protocol::{Message, ModelRequest, ToolSpec};
use serde_json::{json, Value};

use crate::toolcall;

/// One message before the template renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

const TOOLS_PROMPT: &str = include_str!("../prompts/tools.md");

/// The system text: the request's system prompt, then the tool instructions when tools
/// are offered.
pub fn system_text(system: &str, tools: &[ToolSpec]) -> String {
    if tools.is_empty() {
        return system.to_string();
    }
    let listed: Vec<String> = tools
        .iter()
        .map(|t| {
            format!(
                "{{\"name\": {}, \"description\": {}, \"parameters\": {}}}",
                Value::String(t.name.clone()),
                Value::String(t.description.clone()),
                t.parameters
            )
        })
        .collect();
    let tools_text = TOOLS_PROMPT
        .trim_end()
        .replace("{tools}", &listed.join("\n"));
    if system.trim().is_empty() {
        tools_text
    } else {
        format!("{}\n\n{tools_text}", system.trim_end())
    }
}

/// The messages of `request`, system first (when there is any system text).
pub fn messages(request: &ModelRequest) -> Vec<ChatMessage> {
    let mut out = Vec::new();
    let system = system_text(&request.system, &request.tools);
    if !system.is_empty() {
        out.push(ChatMessage {
            role: "system",
            content: system,
        });
    }
    out.extend(history(&request.messages));
    out
}

/// The conversation with tool calls and results rendered as text.
pub fn history(messages: &[Message]) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::new();
    let mut in_results = false;
    for message in messages {
        match message {
            Message::User { text, .. } => {
                out.push(ChatMessage {
                    role: "user",
                    content: text.clone(),
                });
                in_results = false;
            }
            Message::Assistant {
                text, tool_calls, ..
            } => {
                let mut parts: Vec<String> = Vec::new();
                if !text.trim().is_empty() {
                    parts.push(text.trim().to_string());
                }
                for call in tool_calls {
                    parts.push(toolcall::render(&call.name, &call.arguments));
                }
                out.push(ChatMessage {
                    role: "assistant",
                    content: parts.join("\n"),
                });
                in_results = false;
            }
            Message::Tool(result) => {
                let mut body = json!({"name": result.name, "content": result.content});
                if result.is_error {
                    body["error"] = Value::Bool(true);
                }
                let block = format!("<tool_response>\n{body}\n</tool_response>");
                match out.last_mut() {
                    Some(last) if in_results => {
                        last.content.push('\n');
                        last.content.push_str(&block);
                    }
                    _ => out.push(ChatMessage {
                        role: "user",
                        content: block,
                    }),
                }
                in_results = true;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolCall, ToolResult};

    #[test]
    fn tool_calls_and_results_render_as_hermes_text() {
        let call = ToolCall {
            id: "c1".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"notes.txt"}"#.into(),
        };
        let call2 = ToolCall {
            id: "c2".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"gone.txt"}"#.into(),
        };
        let history = history(&[
            Message::user("read my notes"),
            Message::assistant("", vec![call.clone(), call2.clone()]),
            Message::Tool(ToolResult::ok(&call, "buy milk")),
            Message::Tool(ToolResult::error(&call2, "no such file")),
            Message::assistant("You need to buy milk.", vec![]),
        ]);
        let roles: Vec<&str> = history.iter().map(|m| m.role).collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
        assert_eq!(
            history[1].content,
            "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"notes.txt\"}}\n</tool_call>\n\
             <tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"gone.txt\"}}\n</tool_call>"
        );
        assert_eq!(
            history[2].content,
            "<tool_response>\n{\"content\":\"buy milk\",\"name\":\"read_file\"}\n</tool_response>\n\
             <tool_response>\n{\"content\":\"no such file\",\"error\":true,\"name\":\"read_file\"}\n</tool_response>"
        );
    }

    #[test]
    fn tools_are_listed_after_the_system_prompt() {
        let tools = [ToolSpec {
            name: "read_file".into(),
            description: "Read a file.".into(),
            parameters: json!({"type": "object"}),
        }];
        let text = system_text("You are Hearth.", &tools);
        assert!(text.starts_with("You are Hearth.\n\n"), "{text}");
        assert!(
            text.contains(r#"{"name": "read_file", "description": "Read a file.", "parameters": {"type":"object"}}"#),
            "{text}"
        );
        assert!(!text.contains("{tools}"));
        assert_eq!(system_text("plain", &[]), "plain");
    }
}
