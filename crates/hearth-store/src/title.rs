//! The title a session gets from its first user message.

/// Longest title derived from a message, in characters, including the ellipsis.
pub(crate) const TITLE_MAX_CHARS: usize = 60;

/// The first non-blank line of `text`, trimmed, cut to [`TITLE_MAX_CHARS`] characters
/// (on a char boundary, ending in `…` when cut). `None` when the text is blank.
pub(crate) fn title_from_user_text(text: &str) -> Option<String> {
    let first_line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    if first_line.chars().count() <= TITLE_MAX_CHARS {
        return Some(first_line.to_string());
    }
    let kept: String = first_line.chars().take(TITLE_MAX_CHARS - 1).collect();
    Some(format!("{}…", kept.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_non_blank_line() {
        assert_eq!(
            title_from_user_text("\n  fix the build  \nthen run the tests").as_deref(),
            Some("fix the build")
        );
    }

    #[test]
    fn blank_text_gives_no_title() {
        assert_eq!(title_from_user_text(""), None);
        assert_eq!(title_from_user_text(" \n\t\n"), None);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_kept_whole() {
        let line = "x".repeat(TITLE_MAX_CHARS);
        assert_eq!(title_from_user_text(&line), Some(line));
    }

    #[test]
    fn a_long_line_is_cut_with_an_ellipsis_on_a_char_boundary() {
        let line = "é".repeat(100);
        let title = title_from_user_text(&line).unwrap();
        assert_eq!(title.chars().count(), TITLE_MAX_CHARS);
        assert!(title.ends_with('…'));
        assert_eq!(title, format!("{}…", "é".repeat(TITLE_MAX_CHARS - 1)));
    }
}
