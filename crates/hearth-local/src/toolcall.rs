//! Reads Hermes/Qwen-style tool calls out of a local model's text:
//! `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, and writes them back the same
//! way when history is rendered into a prompt.

use hearth_protocol::ToolSpec;
use serde_json::Value;

pub const OPEN: &str = "<tool_call>";
pub const CLOSE: &str = "</tool_call>";

/// One call as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCall {
    pub name: String,
    /// The arguments object as compact JSON.
    pub arguments: String,
}

/// Whether `text` is (the start of) a tool call rather than an answer.
pub fn looks_like_call(text: &str) -> bool {
    let trimmed = text.trim_start();
    trimmed.starts_with(OPEN) || (OPEN.starts_with(trimmed) && !trimmed.is_empty())
}

/// The calls in `text` that parse and name one of `tools`, in order. A missing final
/// `</tool_call>` is tolerated (a stop sequence may have cut it off).
pub fn parse(text: &str, tools: &[ToolSpec]) -> Vec<ParsedCall> {
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let (body, next) = match after.find(CLOSE) {
            Some(end) => (&after[..end], &after[end + CLOSE.len()..]),
            None => (after, ""),
        };
        if let Some(call) = parse_one(body.trim(), tools) {
            calls.push(call);
        }
        rest = next;
    }
    calls
}

fn parse_one(body: &str, tools: &[ToolSpec]) -> Option<ParsedCall> {
    let value: Value = serde_json::from_str(body).ok()?;
    let name = value.get("name")?.as_str()?;
    if !tools.iter().any(|t| t.name == name) {
        return None;
    }
    let arguments = match value.get("arguments") {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok()?,
        Some(args @ Value::Object(_)) => args.clone(),
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(_) => return None,
    };
    Some(ParsedCall {
        name: name.to_string(),
        arguments: arguments.to_string(),
    })
}

/// A call written the way the grammar makes the model write it.
pub fn render(name: &str, arguments: &str) -> String {
    let arguments: Value =
        serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.into()));
    format!(
        "{OPEN}\n{{\"name\": {}, \"arguments\": {}}}\n{CLOSE}",
        Value::String(name.into()),
        spaced_json(&arguments)
    )
}

/// JSON with `", "` and `": "` separators, matching the grammar's layout.
fn spaced_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), spaced_json(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(spaced_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tools() -> Vec<ToolSpec> {
        ["read_file", "write_file"]
            .iter()
            .map(|name| ToolSpec {
                name: name.to_string(),
                description: String::new(),
                parameters: json!({"type": "object"}),
            })
            .collect()
    }

    #[test]
    fn parses_calls_and_skips_unknown_or_broken_ones() {
        let text = "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"a.txt\"}}\n</tool_call>\
                    <tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>\
                    <tool_call>{\"name\": \"write_file\", \"arguments\": \"{\\\"path\\\": \\\"b\\\"}\"}</tool_call>\
                    <tool_call>{not json}</tool_call>";
        let calls = parse(text, &tools());
        assert_eq!(
            calls,
            [
                ParsedCall {
                    name: "read_file".into(),
                    arguments: r#"{"path":"a.txt"}"#.into()
                },
                ParsedCall {
                    name: "write_file".into(),
                    arguments: r#"{"path":"b"}"#.into()
                },
            ]
        );
        let unclosed = "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {}}";
        assert_eq!(parse(unclosed, &tools()).len(), 1);
        assert!(parse("just an answer", &tools()).is_empty());
    }

    #[test]
    fn render_round_trips_through_parse() {
        let rendered = render("write_file", r#"{"path":"a b.txt","content":"x\ny"}"#);
        assert_eq!(
            rendered,
            "<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"content\": \"x\\ny\", \"path\": \"a b.txt\"}}\n</tool_call>"
        );
        let parsed = parse(&rendered, &tools());
        assert_eq!(
            parsed[0].arguments,
            r#"{"content":"x\ny","path":"a b.txt"}"#
        );
    }

    #[test]
    fn call_detection_works_on_prefixes() {
        assert!(looks_like_call("<tool"));
        assert!(looks_like_call("  <tool_call>\n{"));
        assert!(!looks_like_call("Hello"));
        assert!(!looks_like_call(""));
    }
}

/// Random model output: the parser never panics, every call it returns names an offered
/// tool with an arguments object, and a rendered call parses back to itself.
#[cfg(test)]
mod properties {
    use hearth_protocol::ToolSpec;
    use proptest::prelude::*;

    use super::{parse, render};

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.to_string(),
            description: String::new(),
            parameters: serde_json::json!({"type": "object"}),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_text_yields_only_valid_calls(text in "(<tool_call>|</tool_call>|\\{|\\}|\"|:|,|name|arguments|read_file|[ -~\n]){0,200}") {
            let tools = [tool("read_file"), tool("exec")];
            for call in parse(&text, &tools) {
                prop_assert!(tools.iter().any(|t| t.name == call.name));
                let arguments: serde_json::Value = serde_json::from_str(&call.arguments).unwrap();
                prop_assert!(arguments.is_object());
            }
        }

        #[test]
        fn a_rendered_call_parses_back(path in "[ -~]{0,40}", offset in any::<u32>()) {
            let arguments = serde_json::json!({"path": path, "offset": offset}).to_string();
            let calls = parse(&render("read_file", &arguments), &[tool("read_file")]);
            prop_assert_eq!(calls.len(), 1);
            let back: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
            let sent: serde_json::Value = serde_json::from_str(&arguments).unwrap();
            prop_assert_eq!(back, sent);
        }
    }
}
