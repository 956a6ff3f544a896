//! The real `hearth` binary with the bundled local model (SmolLM2-135M-Instruct, run
//! in-process): a grammar-constrained tool call goes through the whole loop and writes a
//! file; with no model configured the bundled one is the default; a missing or corrupt
//! GGUF is a clear error, not a crash. The model tests are skipped, with a printed
//! reason, when the model is not in the cache (`scripts/fetch-models.sh chat`).

use std::path::{Path, PathBuf};
use std::process::Output;

fn models_dir() -> PathBuf {
    match std::env::var_os("HEARTH_MODELS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/hearth/models")
        }
    }
}

fn bundled_present() -> bool {
    let path = models_dir().join("SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        let what = format!(
            "{} is absent; fetch it with scripts/fetch-models.sh chat",
            path.display()
        );
        eprintln!("skipped: {}", hearth_testkit::model_absent(&what));
    }
    path.is_file()
}

/// `hearth <args>` in a fresh HEARTH_HOME, with the model cache at `models`.
fn hearth(home: &Path, models: &Path, args: &[&str]) -> Output {
    std::fs::create_dir_all(home.join("workspace")).unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("HEARTH_HOME", home)
        .env("HEARTH_MODELS", models)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_constrained_tool_call_writes_a_file_through_the_real_loop() {
    if !bundled_present() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // Naming the tool makes the first step a call of it (see hearth-local's provider).
    // Greedy decoding is deterministic for one build, so this is the same run every time
    // on a machine of this kind; a 135M model copies a short relative path faithfully,
    // where it shortens a long absolute one (`/tmp/x/workspace` became `/tmp/workspace`).
    let prompt = "Use write_file with the path hello.txt and the content hello.";
    let output = hearth(
        home.path(),
        &models_dir(),
        &[
            "run",
            "--model",
            "local:smollm2",
            "--max-steps",
            "3",
            prompt,
        ],
    );
    let stderr = text(&output.stderr);
    assert!(
        output.status.code().is_some(),
        "killed by a signal: {stderr}"
    );
    let written: Vec<_> = std::fs::read_dir(home.path().join("workspace"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let stdout = text(&output.stdout);
    assert_eq!(written, ["hello.txt"], "stdout: {stdout}\nstderr: {stderr}");
    let content = std::fs::read_to_string(home.path().join("workspace/hello.txt")).unwrap();
    assert!(!content.is_empty(), "the call carried its content");
    // The model had to stop calling tools and answer: the turn ended by itself.
    assert!(output.status.success(), "{stderr}");
}

#[test]
fn with_nothing_configured_the_bundled_model_answers() {
    if !bundled_present() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let output = hearth(home.path(), &models_dir(), &["run", "say hello"]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!text(&output.stdout).trim().is_empty(), "{stderr}");
}

#[test]
fn a_missing_bundled_model_names_the_fetch_command() {
    let home = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let output = hearth(
        home.path(),
        empty.path(),
        &["run", "--model", "local:smollm2", "hi"],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(output.status.code().is_some(), "crashed: {stderr}");
    assert!(stderr.contains("scripts/fetch-models.sh chat"), "{stderr}");
}

#[test]
fn a_corrupt_gguf_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&[0x5A; 256]);
    std::fs::write(models.path().join("broken.gguf"), bytes).unwrap();
    std::fs::write(models.path().join("page.gguf"), "<html>404</html>").unwrap();
    for (id, expected) in [
        ("broken", "could not load"),
        ("page", "not a GGUF model file"),
    ] {
        let model = format!("local:{id}");
        let output = hearth(
            home.path(),
            models.path(),
            &["run", "--model", &model, "hi"],
        );
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{id}");
        assert!(output.status.code().is_some(), "{id} crashed: {stderr}");
        assert!(stderr.contains(expected), "{id}: {stderr}");
        assert!(stderr.contains(&format!("{id}.gguf")), "{id}: {stderr}");
    }
}
