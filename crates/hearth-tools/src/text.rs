//! Shortening long text for the model: keep what matters, say what was cut.

/// Keep the first and last parts of `text` so that at most `max_chars` characters of
/// it remain, with a marker such as `"\n[... 12345 characters cut ...]\n"` in the
/// middle (the marker is not counted). Text that already fits is returned as is.
/// Cuts only on character boundaries.
pub fn truncate_middle(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let head_chars = max_chars / 2;
    let tail_chars = max_chars - head_chars;
    let cut = total - head_chars - tail_chars;
    let head_end = byte_offset_of_char(text, head_chars);
    let tail_start = byte_offset_of_char(text, total - tail_chars);
    format!(
        "{}\n[... {cut} characters cut ...]\n{}",
        &text[..head_end],
        &text[tail_start..]
    )
}

/// Keep the first `max_chars` characters of `text`; returns the kept prefix and how
/// many characters were dropped.
pub(crate) fn truncate_end(text: &str, max_chars: usize) -> (&str, usize) {
    let end = byte_offset_of_char(text, max_chars);
    let dropped = text[end..].chars().count();
    (&text[..end], dropped)
}

/// The byte offset where the `char_index`-th character starts (or the text's length).
fn byte_offset_of_char(text: &str, char_index: usize) -> usize {
    text.char_indices()
        .nth(char_index)
        .map_or(text.len(), |(offset, _)| offset)
}

/// Whether the bytes look like a binary file: a NUL byte in the first 8 KiB.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8 * 1024).any(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(truncate_middle("hello", 5), "hello");
        assert_eq!(truncate_middle("", 0), "");
    }

    #[test]
    fn long_text_keeps_head_and_tail_and_counts_the_cut() {
        let text = "a".repeat(10) + &"b".repeat(100) + &"c".repeat(10);
        let out = truncate_middle(&text, 20);
        assert!(out.starts_with(&"a".repeat(10)));
        assert!(out.ends_with(&"c".repeat(10)));
        assert!(out.contains("\n[... 100 characters cut ...]\n"));
    }

    #[test]
    fn multibyte_characters_are_never_split() {
        let text = "é".repeat(50) + &"日本".repeat(50);
        let out = truncate_middle(&text, 11);
        assert!(out.starts_with("ééééé\n"));
        assert!(out.ends_with("\n日本日本日本"));
        assert!(out.contains("[... 139 characters cut ...]"));
    }

    #[test]
    fn truncate_end_reports_dropped_characters() {
        assert_eq!(truncate_end("héllo wörld", 5), ("héllo", 6));
        assert_eq!(truncate_end("abc", 10), ("abc", 0));
    }
}
