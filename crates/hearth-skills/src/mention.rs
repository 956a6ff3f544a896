//! `$skill-name` in a user message: the named skill's `SKILL.md` body is pulled into the
//! turn, marked as a skill the user invoked, so the model need not go and read it.

use crate::discover::Catalog;
use crate::frontmatter::load_skill;

/// Names written as `$name` in `text` (1–64 of `[a-z0-9-]`, not glued to a word before
/// the `$`), each once, in order of first appearance. Unknown names are included; see
/// [`expand_mentions`] for the ones that match a skill.
pub fn find_mentions(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for (at, c) in text.char_indices() {
        let glued = previous.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '$');
        previous = Some(c);
        if c != '$' || glued {
            continue;
        }
        let rest = &text[at + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        let name = rest[..len].trim_end_matches('-');
        let next = rest[len..].chars().next();
        let glued_after = next.is_some_and(|n| n.is_alphanumeric() || n == '_');
        if !name.is_empty() && name.len() <= 64 && !glued_after && !names.iter().any(|n| n == name)
        {
            names.push(name.to_string());
        }
    }
    names
}

/// The text to add to a user message for the skills it names with `$name`: each known
/// skill's `SKILL.md` body (read afresh), wrapped in a `<skill>` block that says the user
/// invoked it. `None` when the message names no known skill.
pub fn expand_mentions(text: &str, catalog: &Catalog) -> Option<String> {
    let blocks: Vec<String> = find_mentions(text)
        .iter()
        .filter_map(|name| catalog.get(name))
        .map(|skill| {
            let body = load_skill(&skill.dir)
                .map(|fresh| fresh.body)
                .unwrap_or_else(|_| skill.body.clone());
            format!(
                "<skill name=\"{name}\" path=\"{path}\">\nThe user invoked the skill ${name} for this message: follow its instructions below. \
                 Its other files are in {dir}; read them with read_file and run its scripts with exec.\n\n{body}\n</skill>",
                name = skill.meta.name,
                path = skill.path.display(),
                dir = skill.dir.display(),
            )
        })
        .collect();
    (!blocks.is_empty()).then(|| blocks.join("\n"))
}

/// Where [`inject_mentions`] starts the skill blocks.
const BLOCKS_START: &str = "\n\n<skill name=\"";

/// `text` followed by the blocks of [`expand_mentions`], or `text` unchanged.
pub fn inject_mentions(text: &str, catalog: &Catalog) -> String {
    match expand_mentions(text, catalog) {
        Some(blocks) => format!("{text}\n\n{blocks}"),
        None => text.to_string(),
    }
}

/// The person's own words of a message [`inject_mentions`] made: what memory should
/// capture and search with, not the skill bodies pulled in.
pub fn without_mentions(text: &str) -> &str {
    text.find(BLOCKS_START).map_or(text, |at| &text[..at])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_mentions_gives_back_the_persons_words() {
        let injected = "fill this with $pdf\n\n<skill name=\"pdf\" path=\"p\">\nbody\n</skill>";
        assert_eq!(without_mentions(injected), "fill this with $pdf");
        assert_eq!(without_mentions("no skill here"), "no skill here");
    }

    #[test]
    fn mentions_are_found_once_each_and_not_inside_words_or_variables() {
        assert_eq!(
            find_mentions(
                "use $pdf and $data-viz, then $pdf again. Cost: US$5, $HOME, a$b, $x_y, ($csv)"
            ),
            ["pdf", "data-viz", "csv"]
        );
        assert_eq!(find_mentions("$pdf-"), ["pdf"]);
        assert!(find_mentions("no mentions $ here").is_empty());
    }
}
