//! Makes untrusted text (model output, tool results, file and server text) safe to print
//! on a terminal: control characters, escape sequences, bidi overrides and invisible
//! characters are shown as visible escapes (`\x1b`, `\r`, `\u{202e}`), so nothing printed
//! can move the cursor, rewrite a line, set the clipboard or the title, or hide text.
//!
//! Escaping the ESC byte itself (rather than parsing sequences) means no sequence can
//! start, and it needs no state, so text streamed in pieces is safe piece by piece.

use std::fmt::Write;

/// What happens to line breaks and tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Keep `\n` and `\t` (answer text, listings): everything else is escaped.
    Lines,
    /// Show everything on one line: `\n` and `\t` are escaped too, and so is every
    /// invisible character (zero-width, odd spaces), so what a person approves is all
    /// there is (commands, paths, progress lines).
    OneLine,
}

/// `text` with every character a terminal would act on, or that would not be seen,
/// written as a visible escape. Printable text, including non-ASCII letters, is kept.
pub fn escape_for_terminal(text: &str, layout: Layout) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c, layout);
    }
    out
}

/// `text` escaped on one line and cut to about `max` characters; a cut says how much
/// was left out, so nothing disappears silently.
pub fn preview(text: &str, max: usize) -> String {
    let text = text.trim();
    let mut out = String::new();
    for (shown, c) in text.chars().enumerate() {
        let before = out.len();
        push_escaped(&mut out, c, Layout::OneLine);
        if out.chars().count() > max {
            out.truncate(before);
            let left = text.chars().count() - shown;
            let _ = write!(out, "… (+{left} more characters)");
            return out;
        }
    }
    out
}

/// A JSON document safe to print: serde_json escapes C0 controls but writes DEL, C1
/// controls (U+009B is CSI on some terminals) and bidi or invisible characters raw;
/// these become `\uXXXX` escapes, which JSON readers decode to the same text.
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c != '\n' && needs_escape(c, Layout::OneLine) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char, layout: Layout) {
    if !needs_escape(c, layout) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\n' => out.write_str("\\n"),
        '\t' => out.write_str("\\t"),
        '\r' => out.write_str("\\r"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// Whether `c` is shown escaped under `layout`.
fn needs_escape(c: char, layout: Layout) -> bool {
    let code = c as u32;
    match c {
        '\n' | '\t' => layout == Layout::OneLine,
        // C0 controls (ESC, CR, BEL, backspace, ...), DEL and C1 controls (CSI, OSC, ST).
        c if c.is_control() => true,
        // Bidi embeddings, overrides and isolates: they reorder what is shown.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ if layout == Layout::Lines => false,
        ' ' => false,
        c if c.is_whitespace() => true,
        _ => is_invisible(code),
    }
}

/// Format characters and fillers that take no visible space (zero-width spaces and
/// joiners, bidi marks, soft hyphen, word joiner, BOM, variation selectors, tags).
fn is_invisible(code: u32) -> bool {
    matches!(
        code,
        0x00ad
            | 0x034f
            | 0x061c
            | 0x115f
            | 0x1160
            | 0x17b4
            | 0x17b5
            | 0x180b..=0x180f
            | 0x200b..=0x200f
            | 0x2060..=0x2064
            | 0x206a..=0x206f
            | 0x3164
            | 0xfe00..=0xfe0f
            | 0xfeff
            | 0xffa0
            | 0xfff9..=0xfffb
            | 0x1d173..=0x1d17a
            | 0xe0000..=0xe007f
            | 0xe0100..=0xe01ef
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x07c\r\x08d\u{9b}31me\u{202e}f\u{2066}g\x7f";

    fn assert_inert(out: &str) {
        for c in out.chars() {
            assert!(
                !c.is_control() || c == '\n' || c == '\t',
                "{c:?} reached the terminal in {out:?}"
            );
            assert!(
                !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'),
                "bidi control {c:?} in {out:?}"
            );
        }
    }

    #[test]
    fn escape_sequences_and_controls_become_visible() {
        let out = escape_for_terminal(HOSTILE, Layout::Lines);
        assert_inert(&out);
        assert_eq!(
            out,
            "a\\x1b]52;c;ZXZpbA==\\x07b\\x1b]0;pwned\\x07c\\r\\x08d\\u{9b}31me\\u{202e}f\\u{2066}g\\x7f"
        );
    }

    #[test]
    fn plain_text_newlines_tabs_and_letters_pass_unchanged() {
        let text = "résumé 日本語\n\tcode: x = 1; emoji 👨\u{200d}👩\u{200d}👧\n";
        assert_eq!(escape_for_terminal(text, Layout::Lines), text);
    }

    #[test]
    fn one_line_escapes_line_breaks_and_invisible_characters() {
        let out = escape_for_terminal("a\nb\tc\u{200b}d\u{a0}e\u{feff}", Layout::OneLine);
        assert_eq!(out, "a\\nb\\tc\\u{200b}d\\u{a0}e\\u{feff}");
    }

    #[test]
    fn a_split_sequence_is_escaped_in_each_piece() {
        let pieces = ["text \x1b", "]52;c;ZXZpbA==", "\x07 more"];
        let joined: String = pieces
            .iter()
            .map(|p| escape_for_terminal(p, Layout::Lines))
            .collect();
        assert_inert(&joined);
        assert!(joined.contains("\\x1b]52;c;ZXZpbA==\\x07"), "{joined}");
    }

    #[test]
    fn previews_say_how_much_they_cut() {
        assert_eq!(preview("short\nsecond line", 80), "short\\nsecond line");
        let long = format!("{}\nhidden second line", "x".repeat(30));
        let cut = preview(&long, 20);
        assert!(cut.starts_with(&"x".repeat(20)), "{cut}");
        assert!(cut.ends_with("… (+29 more characters)"), "{cut}");
        assert_inert(&preview(HOSTILE, 10));
    }

    #[test]
    fn json_keeps_its_meaning_but_loses_raw_c1_and_bidi() {
        let value = serde_json::json!({ "text": HOSTILE, "ok": "日本 é" });
        let json = json_for_terminal(&serde_json::to_string_pretty(&value).unwrap());
        assert_inert(&json);
        assert!(
            json.contains("\\u009b") && json.contains("\\u202e"),
            "{json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, value);
    }
}
