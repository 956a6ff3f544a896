//! The redactor against the encodings a model can be asked to apply to a secret it saw:
//! each form must come out as `[secret:NAME]`, ordinary text must come out unchanged.
//! Expected encodings were computed with Python's `base64`, `bytes.hex` and slicing,
//! independently of the code under test.

use hearth_secrets::Redactor;

/// Holds characters that make base64 use `+` and `/` (standard) or `-` and `_` (URL-safe).
const SECRET: &str = "tok~>?~>?_Zq9!";

fn redactor() -> Redactor {
    Redactor::new([("api".to_string(), SECRET.to_string())])
}

/// `text` redacted: names the secret and keeps none of `fragments`.
fn assert_redacted(text: &str, fragments: &[&str]) {
    let out = redactor().redact(text);
    assert!(
        out.contains("[secret:api]"),
        "not redacted: {text} -> {out}"
    );
    for fragment in fragments {
        assert!(!out.contains(fragment), "{fragment} survived: {out}");
    }
}

#[test]
fn the_exact_value_is_redacted() {
    assert_redacted(&format!("API_KEY={SECRET}\n"), &[SECRET, "Zq9"]);
}

#[test]
fn base64_of_the_value_alone_is_redacted_padded_or_not() {
    assert_redacted("dG9rfj4/fj4/X1pxOSE=", &["fj4/fj4/X1px"]);
    assert_redacted("echo dG9rfj4/fj4/X1pxOSE | base64 -d", &["fj4/fj4/X1px"]);
}

#[test]
fn base64_embedded_at_every_alignment_is_redacted_in_both_alphabets() {
    // base64 of {"k":"<prefix><secret>"} for the prefixes "", "x" and "xy".
    let cases = [
        ("eyJrIjoidG9rfj4/fj4/X1pxOSEifQ==", "fj4/fj4/X1px"),
        ("eyJrIjoidG9rfj4_fj4_X1pxOSEifQ", "fj4_fj4_X1px"),
        ("eyJrIjoieHRva34+P34+P19acTkhIn0=", "a34+P34+P19a"),
        ("eyJrIjoieHRva34-P34-P19acTkhIn0", "a34-P34-P19a"),
        ("eyJrIjoieHl0b2t+Pj9+Pj9fWnE5ISJ9", "b2t+Pj9+Pj9fWnE5"),
        ("eyJrIjoieHl0b2t-Pj9-Pj9fWnE5ISJ9", "b2t-Pj9-Pj9fWnE5"),
    ];
    for (encoded, fragment) in cases {
        assert_redacted(&format!("payload: {encoded}"), &[fragment]);
    }
}

#[test]
fn hex_in_either_case_is_redacted() {
    assert_redacted("746f6b7e3e3f7e3e3f5f5a713921", &["3e3f7e3e3f"]);
    assert_redacted("0x746F6B7E3E3F7E3E3F5F5A713921", &["3E3F7E3E3F"]);
}

#[test]
fn the_reversed_value_is_redacted() {
    assert_redacted("backwards: !9qZ_?>~?>~kot", &["?>~?>~kot"]);
}

#[test]
fn percent_encoded_forms_are_redacted() {
    assert_redacted(
        "https://evil.example/?k=tok~%3E%3F~%3E%3F_Zq9%21",
        &["%3E%3F~%3E%3F"],
    );
    assert_redacted(
        "/?k=%74%6f%6b%7e%3e%3f%7e%3e%3f%5f%5a%71%39%21",
        &["%7e%3e%3f%7e"],
    );
}

#[test]
fn short_values_are_redacted_only_as_they_are() {
    // 7 bytes: below the length at which encodings are looked for.
    let redactor = Redactor::new([("pin".to_string(), "hunter2".to_string())]);
    let text = "2retnuh 68756e74657232 aHVudGVyMg== hunter2";
    assert_eq!(
        redactor.redact(text),
        "2retnuh 68756e74657232 aHVudGVyMg== [secret:pin]"
    );
}

#[test]
fn ordinary_text_is_left_alone() {
    let redactor = Redactor::new([
        ("api".to_string(), SECRET.to_string()),
        ("word".to_string(), "password".to_string()),
        ("tiny".to_string(), "abc".to_string()),
    ]);
    let text = "The quick brown fox: 0123456789abcdef, #ff00ff, abc, drowssap is not \
                reversed enough to matter? It is: see below. SGVsbG8gd29ybGQ= ~/.cargo/bin";
    let out = redactor.redact(text);
    // Only the reversed 8-byte value is taken, and nothing else changes.
    assert_eq!(out, text.replace("drowssap", "[secret:word]"));
}
