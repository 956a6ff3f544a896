//! GBNF grammars that constrain a local model's output to either a plain answer or one
//! Hermes-style tool call naming an offered tool with its required arguments.
//!
//! The call format is fixed down to the spaces, so the model only chooses the tool and
//! the argument values:
//!
//! ```text
//! <tool_call>
//! {"name": "read_file", "arguments": {"path": "notes.txt"}}
//! </tool_call>
//! ```
//!
//! Inside argument strings `<` must be written as the JSON escape `\u003c`: a small
//! model that forgets to close a string otherwise writes `</tool_call>` into it and
//! rambles on inside the string until the token limit.
//!
//! Only a schema's `required` properties appear, in the schema's order: optional ones
//! are left out, so every call has exactly what the tool needs. A plain answer is any
//! text that does not start with `<`, which is what tells the two branches apart
//! from the first character on.

use hearth_protocol::ToolSpec;
use serde_json::Value;

/// What the next model output may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputShape {
    /// A plain answer or one tool call.
    AnswerOrCall,
    /// A plain answer only.
    AnswerOnly,
    /// One tool call, no answer (the user named the tools to use).
    CallOnly,
}

/// A plain answer: any text that does not start with `<`.
const ANSWER: &str = "[^<] [^\\x00]*";

/// How deep nested object/array schemas are followed before falling back to any JSON.
const MAX_DEPTH: usize = 4;

const COMMON_RULES: &str = r#"string ::= "\"" char* "\""
char ::= [^"<\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])
integer ::= "-"? ([0-9] | [1-9] [0-9]{0,15})
number ::= integer ("." [0-9]{1,15})? ([eE] [-+]? [0-9]{1,3})?
boolean ::= "true" | "false"
null ::= "null"
value ::= object | array | string | number | boolean | null
object ::= "{" ( string ": " value (", " string ": " value)* )? "}"
array ::= "[" ( value (", " value)* )? "]"
"#;

/// The grammar for `shape` over `tools`, or `None` when the output is unconstrained
/// (no tools offered).
pub fn build(tools: &[ToolSpec], shape: OutputShape) -> Option<String> {
    if tools.is_empty() {
        return None;
    }
    if shape == OutputShape::AnswerOnly {
        // Only keeps a small model from opening its answer with a tag it has seen in
        // the history (`<tool_call>`, `<tool_response>`).
        return Some(format!("root ::= {ANSWER}\n"));
    }
    let mut rules = Vec::new();
    let mut branches = Vec::new();
    for (index, tool) in tools.iter().enumerate() {
        let rule = format!("tool-{index}");
        let args = value_rule(&tool.parameters, &format!("args-{index}"), 0, &mut rules);
        let head = format!(
            "{{\"name\": {}, \"arguments\": ",
            Value::String(tool.name.clone())
        );
        rules.push(format!(
            "{rule} ::= \"{}\" {args} \"}}\"",
            gbnf_literal(&head)
        ));
        branches.push(rule);
    }
    let mut grammar = String::new();
    if shape == OutputShape::CallOnly {
        grammar.push_str("root ::= call\n");
    } else {
        grammar.push_str("root ::= answer | call\n");
        grammar.push_str(&format!("answer ::= {ANSWER}\n"));
    }
    grammar.push_str(&format!(
        "call ::= \"<tool_call>\\n\" ({}) \"\\n</tool_call>\"\n",
        branches.join(" | ")
    ));
    for rule in rules {
        grammar.push_str(&rule);
        grammar.push('\n');
    }
    grammar.push_str(COMMON_RULES);
    Some(grammar)
}

/// The name of a rule matching JSON values of `schema`, adding any rules it needs.
fn value_rule(schema: &Value, name: &str, depth: usize, rules: &mut Vec<String>) -> String {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        let literals: Vec<String> = options
            .iter()
            .map(|v| format!("\"{}\"", gbnf_literal(&v.to_string())))
            .collect();
        if !literals.is_empty() {
            rules.push(format!("{name} ::= {}", literals.join(" | ")));
            return name.to_string();
        }
    }
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "string" => "string".into(),
        "integer" => "integer".into(),
        "number" => "number".into(),
        "boolean" => "boolean".into(),
        "array" if depth < MAX_DEPTH => {
            let items = schema.get("items").cloned().unwrap_or(Value::Null);
            let item = value_rule(&items, &format!("{name}-item"), depth + 1, rules);
            rules.push(format!("{name} ::= \"[\" ({item} (\", \" {item})*)? \"]\""));
            name.to_string()
        }
        "object" if depth < MAX_DEPTH && schema.get("properties").is_some() => {
            object_rule(schema, name, depth, rules)
        }
        "object" => "object".into(),
        "array" => "array".into(),
        _ => "value".into(),
    }
}

/// `{"a": <a>, "b": <b>}` over the schema's required properties, in order.
fn object_rule(schema: &Value, name: &str, depth: usize, rules: &mut Vec<String>) -> String {
    let properties = schema.get("properties");
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut parts = Vec::new();
    for (index, property) in required.iter().enumerate() {
        let property_schema = properties
            .and_then(|p| p.get(*property))
            .cloned()
            .unwrap_or(Value::Null);
        let rule = value_rule(
            &property_schema,
            &format!("{name}-{index}"),
            depth + 1,
            rules,
        );
        let separator = if index == 0 { "" } else { ", " };
        let key = format!("{separator}{}: ", Value::String(property.to_string()));
        parts.push(format!("\"{}\" {rule}", gbnf_literal(&key)));
    }
    let body = if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(" "))
    };
    rules.push(format!("{name} ::= \"{{\"{body} \"}}\""));
    name.to_string()
}

/// `text` escaped for use inside a GBNF `"…"` literal.
fn gbnf_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, parameters: Value) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: String::new(),
            parameters,
        }
    }

    #[test]
    fn shapes_select_the_branches() {
        assert_eq!(build(&[], OutputShape::AnswerOrCall), None);
        let tools = [tool("list_dir", json!({"type": "object"}))];
        let answer = build(&tools, OutputShape::AnswerOnly).unwrap();
        assert_eq!(answer, "root ::= [^<] [^\\x00]*\n");
        let forced = build(&tools, OutputShape::CallOnly).unwrap();
        assert!(forced.starts_with("root ::= call\n"), "{forced}");
        assert!(!forced.contains("answer"), "{forced}");
    }

    #[test]
    fn one_branch_per_tool_with_required_arguments_in_order() {
        let tools = [
            tool(
                "write_file",
                json!({"type": "object", "properties": {
                    "path": {"type": "string"}, "content": {"type": "string"},
                    "append": {"type": "boolean"}},
                    "required": ["path", "content"]}),
            ),
            tool(
                "grep",
                json!({"type": "object", "properties": {
                    "mode": {"type": "string", "enum": ["files", "lines"]},
                    "max": {"type": "integer"}, "globs": {"type": "array", "items": {"type": "string"}}},
                    "required": ["mode", "max", "globs"]}),
            ),
        ];
        let grammar = build(&tools, OutputShape::AnswerOrCall).unwrap();
        let expected = [
            "root ::= answer | call",
            r#"call ::= "<tool_call>\n" (tool-0 | tool-1) "\n</tool_call>""#,
            r#"tool-0 ::= "{\"name\": \"write_file\", \"arguments\": " args-0 "}""#,
            r#"args-0 ::= "{" "\"path\": " string ", \"content\": " string "}""#,
            r#"tool-1 ::= "{\"name\": \"grep\", \"arguments\": " args-1 "}""#,
        ];
        for line in expected {
            assert!(grammar.lines().any(|l| l == line), "{line}\n{grammar}");
        }
        assert!(!grammar.contains("append"), "{grammar}");
        assert!(grammar.contains(r#""\"mode\": " args-1-0"#), "{grammar}");
        assert!(
            grammar.contains(r#"args-1-0 ::= "\"files\"" | "\"lines\"""#),
            "{grammar}"
        );
        assert!(
            grammar.contains(r#"args-1-2 ::= "[" (string (", " string)*)? "]""#),
            "{grammar}"
        );
    }

    #[test]
    fn literals_are_escaped() {
        assert_eq!(gbnf_literal("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
