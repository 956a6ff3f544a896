//! Turning the model's JSON arguments into a tool's typed arguments, with errors the
//! model can act on.

use serde::de::DeserializeOwned;

use crate::ToolError;

/// Deserialize `args` for `tool`. On failure the error says what was wrong (missing
/// field, wrong type, unknown field) and gives the expected schema when `tool` is a
/// built-in one.
pub fn parse_args<T: DeserializeOwned>(
    tool: &str,
    args: serde_json::Value,
) -> Result<T, ToolError> {
    let problem = if args.is_object() {
        match serde_json::from_value::<T>(args) {
            Ok(parsed) => return Ok(parsed),
            Err(err) => err.to_string(),
        }
    } else {
        format!("arguments must be a JSON object, got {}", json_kind(&args))
    };
    let expected = match crate::registry::builtin_parameters(tool) {
        Some(schema) => format!("expected arguments (JSON Schema): {schema}"),
        None => "check the tool's parameter schema".to_string(),
    };
    Err(ToolError::Arguments { problem, expected })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PathArgs {
        #[allow(dead_code)]
        path: String,
    }

    #[test]
    fn missing_field_is_named_with_the_schema() {
        let err = parse_args::<PathArgs>("read_file", json!({}))
            .unwrap_err()
            .into_output("read_file");
        assert!(err.is_error);
        assert!(err.content.starts_with("read_file: invalid arguments"));
        assert!(
            err.content.contains("missing field `path`"),
            "{}",
            err.content
        );
        assert!(err.content.contains("\"properties\""), "{}", err.content);
    }

    #[test]
    fn non_object_and_wrong_type_are_explained() {
        let err = parse_args::<PathArgs>("custom", json!(null))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be a JSON object, got null"));
        assert!(err.contains("check the tool's parameter schema"));
        let err = parse_args::<PathArgs>("custom", json!({"path": 5}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type: integer `5`"), "{err}");
    }
}

/// Random arguments from a model: never a panic, and a refusal is always an argument
/// error (which dispatch shows after the tool's name).
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::parse_args;
    use crate::ToolError;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct ReadArgs {
        path: String,
        offset: Option<usize>,
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            "[ -~]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("(path|offset|[a-z]{1,6})", inner, 0..6)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_is_parsed_or_refused_as_invalid_arguments(value in json_value()) {
            if let Err(refusal) = parse_args::<ReadArgs>("read_file", value) {
                prop_assert!(matches!(refusal, ToolError::Arguments { .. }), "{refusal}");
            }
        }
    }
}
