//! The dependency and printing rules `ARCHITECTURE.md` states, as tests over the real
//! workspace: the manifests through `cargo metadata`, the sources as text.
//!
//! - `hearth-protocol` is data only: serde, no other Hearth crate, nothing async.
//! - `hearth-testkit` is used only by tests and benches (dev-dependencies).
//! - clap (flags) lives in the binary's `cli.rs`; libraries take settings from their
//!   caller. Only `hearth` has it, and `hearth-testkit` for its own server binary.
//! - The loop has no terminal IO: `hearth-agent` depends on no terminal crate, and it
//!   reaches `state.db` through `hearth-store` only (no SQLite of its own).
//! - llama.cpp is linked by `hearth-local` only, candle by `hearth-memory` only, rmcp
//!   by `hearth-mcp` only.
//! - Library crates never print: no `print!`, `println!`, `eprint!`, `eprintln!` or
//!   `dbg!` in any `src/` outside the binary (`crates/hearth/src`), binary targets
//!   (`src/bin/`), tests, and the sandbox helper's process (`helper.rs`,
//!   `pid_init.rs`: they run only inside `hearth __sandbox-helper`, whose stdout and
//!   stderr are the protocol with the parent).
//! - One integration-test binary per crate: every `tests/*.rs` file is a test target's
//!   root or a module it declares, so no test file is silently left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// One workspace crate as `cargo metadata` describes it.
struct Crate {
    name: String,
    directory: PathBuf,
    /// (dependency name, kind: "normal", "dev" or "build").
    dependencies: Vec<(String, String)>,
    /// (kind, root source file) of every target.
    targets: Vec<(String, PathBuf)>,
}

impl Crate {
    fn depends_on(&self, name: &str, kinds: &[&str]) -> bool {
        self.dependencies
            .iter()
            .any(|(dependency, kind)| dependency == name && kinds.contains(&kind.as_str()))
    }

    /// Dependencies that end up in the crate's library or binaries.
    fn shipped_dependencies(&self) -> impl Iterator<Item = &str> {
        self.dependencies
            .iter()
            .filter(|(_, kind)| kind != "dev")
            .map(|(name, _)| name.as_str())
    }
}

fn workspace() -> BTreeMap<String, Crate> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut crates = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap());
        let dependencies = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|dependency| {
                let kind = dependency["kind"].as_str().unwrap_or("normal");
                (
                    dependency["name"].as_str().unwrap().to_string(),
                    kind.to_string(),
                )
            })
            .collect();
        let targets = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|target| {
                let path = PathBuf::from(target["src_path"].as_str().unwrap());
                target["kind"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |kind| (kind.as_str().unwrap().to_string(), path.clone()))
            })
            .collect();
        let name = package["name"].as_str().unwrap().to_string();
        crates.insert(
            name.clone(),
            Crate {
                name,
                directory: manifest.parent().unwrap().to_path_buf(),
                dependencies,
                targets,
            },
        );
    }
    assert!(crates.contains_key("hearth-protocol") && crates.contains_key("hearth"));
    crates
}

#[test]
fn the_protocol_crate_is_data_only_and_depends_on_no_other_hearth_crate() {
    let crates = workspace();
    let protocol = &crates["hearth-protocol"];
    let shipped: Vec<&str> = protocol.shipped_dependencies().collect();
    assert_eq!(
        shipped,
        ["serde", "serde_json"],
        "serde only, no IO, no async"
    );
}

#[test]
fn the_testkit_is_only_a_dev_dependency() {
    for krate in workspace().values() {
        assert!(
            !krate.depends_on("hearth-testkit", &["normal", "build"]),
            "{} ships hearth-testkit; it is for tests and benches only (a dev-dependency)",
            krate.name
        );
    }
}

#[test]
fn only_the_binary_parses_flags_with_clap() {
    for krate in workspace().values() {
        if krate.name == "hearth" || krate.name == "hearth-testkit" {
            continue;
        }
        assert!(
            !krate.depends_on("clap", &["normal", "build"]),
            "{} depends on clap; flags are parsed at the edge (crates/hearth/src/cli.rs) \
             and libraries take plain settings from their caller",
            krate.name
        );
    }
}

#[test]
fn the_loop_has_no_terminal_and_no_sqlite_of_its_own() {
    let crates = workspace();
    let agent = &crates["hearth-agent"];
    for forbidden in ["clap", "rustyline", "crossterm", "rusqlite"] {
        assert!(
            !agent.depends_on(forbidden, &["normal", "build"]),
            "hearth-agent depends on {forbidden}: the loop does no terminal IO and writes \
             state.db only through hearth-store"
        );
    }
}

#[test]
fn heavy_engines_are_linked_by_their_one_crate() {
    let owners = [
        ("llama-cpp-2", "hearth-local"),
        ("candle-core", "hearth-memory"),
        ("candle-nn", "hearth-memory"),
        ("candle-transformers", "hearth-memory"),
        ("rmcp", "hearth-mcp"),
    ];
    for krate in workspace().values() {
        for (engine, owner) in owners {
            if krate.name != owner {
                assert!(
                    !krate.depends_on(engine, &["normal", "build"]),
                    "{} depends on {engine}, which only {owner} may link",
                    krate.name
                );
            }
        }
    }
}

/// The sandbox helper's process: these files run only inside `__sandbox-helper`.
const HELPER_PROCESS_FILES: [&str; 2] = [
    "crates/hearth-sandbox/src/helper.rs",
    "crates/hearth-sandbox/src/pid_init.rs",
];

/// Source text outside `#[cfg(test)]` modules (by the workspace's convention, the last
/// item of a file) and outside line comments.
fn shipped_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut previous = "";
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if previous.trim() == "#[cfg(test)]"
            && trimmed.starts_with("mod ")
            && trimmed.ends_with('{')
        {
            break; // the test module runs to the end of the file
        }
        previous = line;
        if !trimmed.starts_with("//") {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// Files a crate's lib or test declares as `#[cfg(test)] mod name;`: test code.
fn test_only_files(directory: &Path, text: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut previous = "";
    for line in text.lines() {
        let trimmed = line.trim();
        if previous.trim() == "#[cfg(test)]" {
            if let Some(name) = trimmed
                .strip_prefix("mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            {
                files.push(directory.join(format!("{name}.rs")));
                files.push(directory.join(name).join("mod.rs"));
            }
        }
        previous = line;
    }
    files
}

fn rust_files(directory: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "bin") {
                continue; // binary targets are process mains
            }
            rust_files(&path, into);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            into.push(path);
        }
    }
}

fn prints(line: &str) -> Option<&'static str> {
    ["print!(", "println!(", "eprint!(", "eprintln!(", "dbg!("]
        .into_iter()
        .find(|call| {
            line.match_indices(call).any(|(at, _)| {
                at == 0
                    || !line[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}

#[test]
fn library_crates_never_print() {
    let crates = workspace();
    let root = crates["hearth"]
        .directory
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let mut found = Vec::new();
    for krate in crates.values() {
        if krate.name == "hearth" {
            continue; // the binary turns events and errors into output
        }
        let source = krate.directory.join("src");
        let mut files = Vec::new();
        rust_files(&source, &mut files);
        let mut test_files = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            test_files.extend(test_only_files(file.parent().unwrap(), &text));
        }
        for file in files {
            let relative = file
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if HELPER_PROCESS_FILES.contains(&relative.as_str()) || test_files.contains(&file) {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in shipped_lines(&text) {
                if let Some(call) = prints(line) {
                    found.push(format!("{relative}:{number}: {call} in {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "library crates never print (they return values or emit events; the binary \
         prints):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_print_check_finds_what_it_looks_for() {
    assert_eq!(prints(r#"    println!("x");"#), Some("println!("));
    assert_eq!(prints("let _ = dbg!(value);"), Some("dbg!("));
    assert_eq!(prints(r#"eprint!("x")"#), Some("eprint!("));
    assert_eq!(prints("writeln!(out, \"x\")"), None);
    assert_eq!(prints("my_println!(x)"), None);
    let text = "fn a() { println!(\"shipped\"); }\n// println!(\"comment\")\n#[cfg(test)]\nmod tests {\n    fn b() { println!(\"test\"); }\n}\n";
    let lines: Vec<usize> = shipped_lines(text)
        .into_iter()
        .filter(|(_, line)| prints(line).is_some())
        .map(|(number, _)| number)
        .collect();
    assert_eq!(lines, [1]);
}

#[test]
fn every_test_file_belongs_to_the_one_test_binary_of_its_crate() {
    for krate in workspace().values() {
        let roots: Vec<&PathBuf> = krate
            .targets
            .iter()
            .filter(|(kind, _)| kind == "test")
            .map(|(_, path)| path)
            .collect();
        assert!(
            roots.len() <= 1,
            "{} has {} integration-test binaries; merge them into tests/all.rs (one binary \
             per crate links once)",
            krate.name,
            roots.len()
        );
        let tests = krate.directory.join("tests");
        let Ok(entries) = std::fs::read_dir(&tests) else {
            continue;
        };
        let declared: String = roots
            .iter()
            .map(|root| std::fs::read_to_string(root).unwrap())
            .collect();
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|extension| extension != "rs") || roots.contains(&&path)
            {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy();
            assert!(
                declared.contains(&format!("mod {stem};")),
                "{} is not a module of {}'s test binary; add `mod {stem};` to tests/all.rs",
                path.display(),
                krate.name
            );
        }
    }
}
