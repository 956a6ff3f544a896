//! The registry: names, order, replacement, spec size, and bad arguments for every
//! built-in tool giving a readable error instead of a panic.

use crate::common;

use std::sync::Arc;

use common::workspace;
use hearth_protocol::ToolSpec;
use hearth_tools::{parse_args, Tool, ToolContext, ToolError, ToolOutput, ToolRegistry};
use serde_json::json;

const BUILTINS: [&str; 7] = [
    "read_file",
    "write_file",
    "edit_file",
    "list_dir",
    "glob",
    "grep",
    "web_fetch",
];

#[test]
fn builtins_are_registered_in_a_stable_order() {
    let registry = ToolRegistry::with_builtins();
    assert_eq!(registry.names(), BUILTINS);
    let spec_names: Vec<String> = registry.specs().into_iter().map(|s| s.name).collect();
    assert_eq!(spec_names, BUILTINS);
    assert!(registry.get("read_file").is_some());
    assert!(registry.get("exec").is_none());
    assert!(ToolRegistry::new().names().is_empty());
}

#[test]
fn specs_are_small() {
    let specs = ToolRegistry::with_builtins().specs();
    for spec in &specs {
        let size = serde_json::to_string(spec).unwrap().len();
        println!("{}: {size} chars", spec.name);
        assert!(size <= 400, "{} spec is {size} chars", spec.name);
        assert_eq!(spec.parameters["type"], "object");
    }
    let total = serde_json::to_string(&specs).unwrap().len();
    println!("all built-in specs together: {total} chars of JSON");
    assert!(total < 2400, "all specs are {total} chars");
}

struct Echo {
    description: &'static str,
}

#[async_trait::async_trait]
impl Tool for Echo {
    fn name(&self) -> &str {
        "read_file"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "read_file".to_string(),
            description: self.description.to_string(),
            parameters: json!({"type": "object"}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        _ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        #[derive(serde::Deserialize)]
        struct Args {
            text: String,
        }
        let args = parse_args::<Args>("echo", args)?;
        Ok(ToolOutput::ok(args.text))
    }
}

#[tokio::test]
async fn registering_a_tool_of_the_same_name_replaces_it_in_place() {
    let mut registry = ToolRegistry::with_builtins();
    registry.register(Arc::new(Echo {
        description: "custom",
    }));
    assert_eq!(registry.names(), BUILTINS);
    assert_eq!(registry.specs()[0].description, "custom");
    let (_dir, ctx) = workspace();
    let tool = registry.get("read_file").unwrap();
    assert_eq!(
        tool.call(json!({"text": "hi"}), &ctx)
            .await
            .unwrap_or_else(|e| e.into_output(tool.name())),
        ToolOutput::ok("hi")
    );
    let err = tool
        .call(json!({"txt": "hi"}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(
        err.is_error && err.content.contains("missing field `text`"),
        "{}",
        err.content
    );
}

#[tokio::test]
async fn bad_arguments_give_readable_errors_for_every_builtin() {
    let (_dir, ctx) = workspace();
    let registry = ToolRegistry::with_builtins();
    let bad_args = [
        json!(null),
        json!("a string"),
        json!([1, 2]),
        json!({"path": 42, "pattern": false, "url": 1, "content": 3}),
        json!({"unexpected": "field"}),
    ];
    for name in BUILTINS {
        let tool = registry.get(name).unwrap();
        for args in &bad_args {
            let out = tool
                .call(args.clone(), &ctx)
                .await
                .unwrap_or_else(|e| e.into_output(tool.name()));
            assert!(out.is_error, "{name} accepted {args}: {}", out.content);
            assert!(
                out.content
                    .starts_with(&format!("{name}: invalid arguments")),
                "{}",
                out.content
            );
            assert!(
                out.content.contains("expected arguments"),
                "{}",
                out.content
            );
        }
    }
}

#[tokio::test]
async fn unknown_fields_are_named() {
    let (_dir, ctx) = workspace();
    let tool = ToolRegistry::with_builtins().get("read_file").unwrap();
    let out = tool
        .call(json!({"path": "a", "ofset": 3}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(
        out.is_error && out.content.contains("unknown field `ofset`"),
        "{}",
        out.content
    );
    let out = tool
        .call(json!({"path": "a", "limit": "ten"}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()));
    assert!(
        out.is_error && out.content.contains("invalid type: string \"ten\""),
        "{}",
        out.content
    );
}

#[test]
fn tool_context_new_canonicalizes_and_names_a_missing_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(dir.path().join(".")).unwrap();
    assert_eq!(ctx.workspace, std::fs::canonicalize(dir.path()).unwrap());
    let err = ToolContext::new(dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing") && err.contains("check that the folder exists"),
        "{err}"
    );
}
