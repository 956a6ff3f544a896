//! Helpers shared by the integration tests: a temporary workspace and a tool caller.
#![allow(dead_code)]

use std::path::Path;

use hearth_tools::{ToolContext, ToolOutput, ToolRegistry};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A fresh workspace in a temporary folder, and a context for it whose HTTP client
/// ignores proxy settings (tests talk to 127.0.0.1).
pub fn workspace() -> (TempDir, ToolContext) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ToolContext {
        workspace: std::fs::canonicalize(dir.path()).unwrap(),
        cancel: CancellationToken::new(),
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .unwrap(),
        files: Default::default(),
        tainted: None,
    };
    (dir, ctx)
}

pub fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Call the built-in tool `name` with `args`.
pub async fn call(ctx: &ToolContext, name: &str, args: serde_json::Value) -> ToolOutput {
    let tool = ToolRegistry::with_builtins().get(name).unwrap();
    tool.call(args, ctx)
        .await
        .unwrap_or_else(|e| e.into_output(tool.name()))
}

/// Call and require success, returning the content.
pub async fn call_ok(ctx: &ToolContext, name: &str, args: serde_json::Value) -> String {
    let out = call(ctx, name, args).await;
    assert!(!out.is_error, "{name} failed: {}", out.content);
    out.content
}

/// Call and require an error, returning the message.
pub async fn call_err(ctx: &ToolContext, name: &str, args: serde_json::Value) -> String {
    let out = call(ctx, name, args).await;
    assert!(
        out.is_error,
        "{name} unexpectedly succeeded: {}",
        out.content
    );
    out.content
}
