//! `config.toml` under random input (issue 20): random bytes and random well-formed TOML
//! with wrong types and unknown keys are parsed or refused, never a panic; a refusal
//! names the file and the line (and an unknown key by name); the input size is capped.

use std::path::Path;

use proptest::prelude::*;

use super::{Config, ConfigError, MAX_CONFIG_BYTES};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("config.toml"), &|_| None)
}

/// Sections and the keys each knows, plus ones no section knows.
const SECTIONS: &[(&str, &[&str])] = &[
    ("", &["model"]),
    ("limits", &["max_steps", "max_output_tokens"]),
    ("sandbox", &["mode", "approval", "network"]),
    ("sandbox.env", &["TOKEN", "PATH"]),
    ("web", &["allow_private_addresses"]),
    ("budget", &["daily_usd", "session_usd"]),
    (
        "context",
        &["compact_at", "compaction_model", "keep_recent_turns"],
    ),
    (
        "subagents",
        &["max_concurrent", "max_depth", "answer_chars"],
    ),
    ("security", &["injection"]),
    ("network", &["allow"]),
    (
        "providers.openai",
        &["base_url", "api_key", "timeout_secs", "max_retries"],
    ),
    (
        "models.\"openai:gpt-4o\"",
        &[
            "idle_timeout_secs",
            "context_window",
            "max_output_tokens",
            "input_usd_per_mtok",
            "temperature",
            "top_p",
            "tools",
        ],
    ),
    ("heartbeat", &["every", "checklist", "probe_timeout_secs"]),
    (
        "channels.telegram",
        &["api_base", "max_file_bytes", "poll_timeout_secs"],
    ),
    ("gateway", &["origins"]),
    ("nonsense", &["key"]),
];

/// A TOML value of any type, some of them right for some key.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..100_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        (-10.0f64..10.0).prop_map(|f| format!("{f:?}")),
        Just("nan".to_string()),
        Just("inf".to_string()),
        "(openai:gpt-4o|local:x|read-only|workspace-write|strict|ask|off|30m|\\*\\.org|[ -!#-\\[\\]-~]{0,12})"
            .prop_map(|s| format!("\"{s}\"")),
        proptest::collection::vec("[a-z.*]{0,8}", 0..3)
            .prop_map(|items| format!("[{}]", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", "))),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
    ]
}

/// A section of key = value lines, keys known to it or not.
fn section() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(SECTIONS),
        proptest::collection::vec(
            (
                prop_oneof![3 => Just(None), 1 => "[a-z_]{1,10}".prop_map(Some)],
                any::<proptest::sample::Index>(),
                value(),
            ),
            0..4,
        ),
    )
        .prop_map(|((name, keys), lines)| {
            let mut text = if name.is_empty() {
                String::new()
            } else {
                format!("[{name}]\n")
            };
            for (unknown, index, value) in lines {
                let key = unknown.unwrap_or_else(|| index.get(keys).to_string());
                text.push_str(&format!("{key} = {value}\n"));
            }
            text
        })
}

/// Parsed, or refused with an error naming the file and a line.
fn parsed_or_refused_at_a_line(text: &str) -> Result<(), TestCaseError> {
    if let Err(err) = parse(text) {
        let err = err.to_string();
        prop_assert!(err.starts_with("config.toml"), "{err}\n--- for:\n{text}");
        prop_assert!(err.contains(" line "), "{err}\n--- for:\n{text}");
        if let Some(field) = err
            .split("unknown field `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
        {
            prop_assert!(text.contains(field), "{err}\n--- for:\n{text}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_parsed_or_refused_at_a_line(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        parsed_or_refused_at_a_line(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn toml_ish_text_is_parsed_or_refused_at_a_line(
        text in "([a-z_]{1,8}|\\[|\\]|\\[\\[|=| |\"|'|\\.|\n|#|,|\\{|\\}|[0-9]{1,3}|true|-|\\\\){0,60}"
    ) {
        parsed_or_refused_at_a_line(&text)?;
    }

    #[test]
    fn wrong_types_and_unknown_keys_are_refused_at_their_line(
        sections in proptest::collection::vec(section(), 1..5)
    ) {
        // Keys before the first header belong to the root table; a repeated header is
        // a TOML error of its own, which is fine: it is refused at its line too.
        parsed_or_refused_at_a_line(&sections.concat())?;
    }
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = parse("[limits]\nmax_steps = 3\nmax_stepz = 4\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 3") && err.contains("max_stepz"), "{err}");
    let err = parse("\n\n[budget]\ndaily_usd = \"ten\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn oversized_and_deeply_nested_files_are_refused_not_a_crash() {
    let huge = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES));
    let err = parse(&huge).unwrap_err().to_string();
    assert!(err.contains(&MAX_CONFIG_BYTES.to_string()), "{err}");
    for open in ["[", "{a="] {
        let nested = format!("model = {}", open.repeat(100_000));
        let err = parse(&nested).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}

#[test]
fn an_oversized_file_on_disk_is_refused_without_reading_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "#".repeat(3 * MAX_CONFIG_BYTES)).unwrap();
    let err = Config::load(&path, &|_| None).unwrap_err().to_string();
    assert!(err.contains("over"), "{err}");
}
