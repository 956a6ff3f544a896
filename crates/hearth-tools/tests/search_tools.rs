//! glob and grep: matching, sorting, caps, `.gitignore`, binary files, bad patterns.

use crate::common;

use common::{call_err, call_ok, workspace, write};
use serde_json::json;

fn project(root: &std::path::Path) {
    write(root, ".gitignore", "target/\n*.log\n");
    write(root, "Cargo.toml", "[package]\nname = \"demo\"\n");
    write(root, "src/main.rs", "fn main() {\n    helper();\n}\n");
    write(root, "src/util/helper.rs", "pub fn helper() {}\n");
    write(root, "target/debug/build.rs", "fn helper() {}\n");
    write(root, "debug.log", "helper called\n");
    write(root, ".git/config", "helper = true\n");
    write(root, ".github/ci.yml", "run: helper\n");
}

#[tokio::test]
async fn glob_without_slash_matches_names_at_any_depth_and_respects_gitignore() {
    let (dir, ctx) = workspace();
    project(dir.path());
    let out = call_ok(&ctx, "glob", json!({"pattern": "*.rs"})).await;
    assert_eq!(out, "src/main.rs\nsrc/util/helper.rs");
    let out = call_ok(&ctx, "glob", json!({"pattern": "*.log"})).await;
    assert!(out.starts_with("No files match"), "{out}");
}

#[tokio::test]
async fn glob_with_slash_matches_relative_paths_and_path_narrows_the_search() {
    let (dir, ctx) = workspace();
    project(dir.path());
    let out = call_ok(&ctx, "glob", json!({"pattern": "src/*.rs"})).await;
    assert_eq!(out, "src/main.rs");
    let out = call_ok(&ctx, "glob", json!({"pattern": "**/*.rs"})).await;
    assert_eq!(out, "src/main.rs\nsrc/util/helper.rs");
    // Results stay relative to the workspace root even when searching a subfolder.
    let out = call_ok(&ctx, "glob", json!({"pattern": "util/*.rs", "path": "src"})).await;
    assert_eq!(out, "src/util/helper.rs");
    // Hidden files are found, the .git folder is not.
    let out = call_ok(&ctx, "glob", json!({"pattern": "*.yml"})).await;
    assert_eq!(out, ".github/ci.yml");
    let out = call_ok(&ctx, "glob", json!({"pattern": "config"})).await;
    assert!(out.starts_with("No files match"), "{out}");
}

#[tokio::test]
async fn glob_caps_results_and_rejects_bad_patterns() {
    let (dir, ctx) = workspace();
    for n in 0..510 {
        write(dir.path(), &format!("f/{n:03}.txt"), "");
    }
    let out = call_ok(&ctx, "glob", json!({"pattern": "*.txt"})).await;
    assert_eq!(out.lines().count(), 501);
    assert!(out.starts_with("f/000.txt\n"));
    assert!(
        out.ends_with("[... 10 more files; use a narrower pattern or path]"),
        "{out}"
    );
    let err = call_err(&ctx, "glob", json!({"pattern": "a[b"})).await;
    assert!(err.contains("invalid glob pattern 'a[b'"), "{err}");
}

#[tokio::test]
async fn grep_prints_path_line_text_and_respects_gitignore() {
    let (dir, ctx) = workspace();
    project(dir.path());
    let out = call_ok(&ctx, "grep", json!({"pattern": "helper"})).await;
    assert_eq!(
        out,
        ".github/ci.yml:1:run: helper\nsrc/main.rs:2:    helper();\nsrc/util/helper.rs:1:pub fn helper() {}"
    );
}

#[tokio::test]
async fn grep_filters_by_glob_and_path_and_searches_a_single_file() {
    let (dir, ctx) = workspace();
    project(dir.path());
    let out = call_ok(&ctx, "grep", json!({"pattern": "fn \\w+", "glob": "*.rs"})).await;
    assert_eq!(
        out,
        "src/main.rs:1:fn main() {\nsrc/util/helper.rs:1:pub fn helper() {}"
    );
    let out = call_ok(&ctx, "grep", json!({"pattern": "fn", "path": "src/util"})).await;
    assert_eq!(out, "src/util/helper.rs:1:pub fn helper() {}");
    let out = call_ok(
        &ctx,
        "grep",
        json!({"pattern": "(?i)NAME", "path": "Cargo.toml", "glob": "*.toml"}),
    )
    .await;
    assert_eq!(out, "Cargo.toml:2:name = \"demo\"");
    let out = call_ok(&ctx, "grep", json!({"pattern": "nothing-like-this"})).await;
    assert!(
        out.starts_with("No matches for 'nothing-like-this'"),
        "{out}"
    );
}

#[tokio::test]
async fn grep_skips_binary_files() {
    let (dir, ctx) = workspace();
    write(dir.path(), "blob.bin", b"needle\0\x01\x02");
    write(dir.path(), "text.txt", "a needle here\n");
    let out = call_ok(&ctx, "grep", json!({"pattern": "needle"})).await;
    assert_eq!(out, "text.txt:1:a needle here");
}

#[tokio::test]
async fn grep_caps_matches_and_says_how_many_more() {
    let (dir, ctx) = workspace();
    let text: String = (0..250).map(|n| format!("match {n}\n")).collect();
    write(dir.path(), "many.txt", text);
    let out = call_ok(&ctx, "grep", json!({"pattern": "^match"})).await;
    assert_eq!(out.lines().count(), 201);
    assert!(
        out.ends_with("[... 50 more matches not shown; narrow the pattern, path or glob]"),
        "{out}"
    );
}

#[tokio::test]
async fn grep_cuts_long_lines() {
    let (dir, ctx) = workspace();
    write(
        dir.path(),
        "min.js",
        format!("var needle={};", "x".repeat(5000)),
    );
    let out = call_ok(&ctx, "grep", json!({"pattern": "needle"})).await;
    assert!(out.len() < 400 && out.ends_with(" [...]"), "{out}");
}

#[tokio::test]
async fn grep_bad_regex_is_a_readable_error() {
    let (_dir, ctx) = workspace();
    let err = call_err(&ctx, "grep", json!({"pattern": "fn main("})).await;
    assert!(
        err.contains("invalid regex 'fn main('") && err.contains("escape"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cancelled_search_stops_with_an_error() {
    let (dir, ctx) = workspace();
    project(dir.path());
    ctx.cancel.cancel();
    let err = call_err(&ctx, "grep", json!({"pattern": "helper"})).await;
    assert!(err.contains("cancelled"), "{err}");
}
