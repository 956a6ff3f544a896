//! The memory tools: short specs with the contract's names and arguments, and a
//! write → search → get round trip as the model would make it.

use std::sync::Arc;

use hearth_memory::tools::{MemoryGet, MemorySearch, MemoryWrite};
use hearth_memory::Memory;
use hearth_tools::{Tool, ToolContext};
use serde_json::json;

#[test]
fn specs_are_short_and_name_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let memory = Arc::new(Memory::open(&dir.path().join("m.db"), None).unwrap());
    let tools: Vec<Box<dyn Tool>> = vec![
        Box::new(MemorySearch {
            memory: Arc::clone(&memory),
        }),
        Box::new(MemoryGet {
            memory: Arc::clone(&memory),
        }),
        Box::new(MemoryWrite { memory }),
    ];
    let expected = [
        ("memory_search", vec!["query", "limit"], vec!["query"]),
        ("memory_get", vec!["id"], vec!["id"]),
        ("memory_write", vec!["text", "tags"], vec!["text"]),
    ];
    for (tool, (name, props, required)) in tools.iter().zip(expected) {
        let spec = tool.spec();
        assert_eq!(spec.name, name);
        let mut keys: Vec<&str> = spec.parameters["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut props = props;
        props.sort_unstable();
        assert_eq!(keys, props);
        assert_eq!(spec.parameters["required"], json!(required));
        let size = serde_json::to_string(&json!({
            "name": spec.name, "description": spec.description, "parameters": spec.parameters
        }))
        .unwrap()
        .len();
        assert!(size <= 300, "{name} spec is {size} chars");
    }
}

#[tokio::test]
async fn write_search_get_as_the_model_would() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext::new(dir.path()).unwrap();
    let memory = Arc::new(Memory::open(&dir.path().join("m.db"), None).unwrap());
    let write = MemoryWrite {
        memory: Arc::clone(&memory),
    };
    let search = MemorySearch {
        memory: Arc::clone(&memory),
    };
    let get = MemoryGet { memory };

    let out = write
        .call(
            json!({"text": "The user's bike is a blue Brompton.", "tags": ["bike"]}),
            &ctx,
        )
        .await
        .unwrap_or_else(|e| e.into_output(write.name()));
    assert!(!out.is_error, "{}", out.content);
    assert!(out.content.contains("#1"), "{}", out.content);

    let out = search
        .call(json!({"query": "what bike", "limit": 3}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(search.name()));
    assert!(!out.is_error);
    assert!(
        out.content.contains("#1") && out.content.contains("Brompton"),
        "{}",
        out.content
    );
    assert!(out.content.contains("note"), "{}", out.content);

    let out = search
        .call(json!({"query": "submarines"}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(search.name()));
    assert_eq!(out.content, "no memories match");

    let out = get
        .call(json!({"id": 1}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(get.name()));
    assert!(out.content.contains("tags: bike"), "{}", out.content);
    let out = get
        .call(json!({"id": 42}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(get.name()));
    assert!(
        out.is_error && out.content.contains("memory_search"),
        "{}",
        out.content
    );
    let out = get
        .call(json!({"id": "one"}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(get.name()));
    assert!(
        out.is_error && out.content.contains("invalid arguments"),
        "{}",
        out.content
    );
    let out = write
        .call(json!({"text": ""}), &ctx)
        .await
        .unwrap_or_else(|e| e.into_output(write.name()));
    assert!(
        out.is_error && out.content.contains("empty"),
        "{}",
        out.content
    );
}
