//! Text handling: query words and stopwords, the FTS5 query built from them, token
//! estimates, and splitting markdown files into chunks worth retrieving on their own.

/// English function words and question words: they match nearly every turn, so a
/// query keeps only the rest. Words of three letters or fewer not listed here stay.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "during",
    "each",
    "ever",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "kind",
    "like",
    "likely",
    "many",
    "me",
    "might",
    "more",
    "most",
    "much",
    "my",
    "myself",
    "of",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "s",
    "t",
    "d",
    "ll",
    "m",
    "re",
    "ve",
    "don",
    "didn",
    "doesn",
    "isn",
    "wasn",
    "weren",
    "won",
    "let",
    "lets",
    "ok",
    "yes",
    "no",
    "not",
    "recently",
    "currently",
    "still",
    "thing",
    "things",
    "way",
    "think",
    "thought",
    "say",
    "said",
    "tell",
    "told",
    "mention",
    "mentioned",
];

pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// Lower-cased words of `text`: letters and digits, apostrophes split words.
pub(crate) fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The first word of a speaker's name, lower-cased: what a query names them by.
pub(crate) fn first_name(speaker: &str) -> Option<String> {
    words(speaker).next()
}

/// The words of a query worth searching for: no stopwords, each once, in order.
pub(crate) fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in words(query) {
        if !is_stopword(&word) && !terms.contains(&word) {
            terms.push(word);
        }
    }
    terms
}

/// An FTS5 MATCH expression matching any of `terms` (each quoted, so no word can be
/// read as FTS5 syntax). `None` when there is nothing to search for.
pub(crate) fn fts_any(terms: &[String]) -> Option<String> {
    let quoted: Vec<String> = terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .filter(|t| t.len() > 2)
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

/// A rough token count (4 characters a token), for budgets.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// `text` cut to at most `max` characters on a char boundary, with "…" when cut.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The largest chunk a markdown file is split into, in characters.
const CHUNK_CHARS: usize = 1200;

/// Splits markdown into chunks: a new chunk at every heading, and paragraphs packed
/// up to [`CHUNK_CHARS`]; each chunk starts with the heading it sits under.
pub(crate) fn markdown_chunks(markdown: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut heading = String::new();
    let mut current = String::new();
    let flush = |current: &mut String, heading: &str, chunks: &mut Vec<String>| {
        let body = current.trim();
        if !body.is_empty() {
            let chunk = if heading.is_empty() || body.starts_with('#') {
                body.to_string()
            } else {
                format!("{heading}\n{body}")
            };
            chunks.push(chunk);
        }
        current.clear();
    };
    for paragraph in markdown.split("\n\n") {
        let paragraph = paragraph.trim();
        if paragraph.is_empty() {
            continue;
        }
        if paragraph.starts_with('#') {
            flush(&mut current, &heading, &mut chunks);
            heading = paragraph.lines().next().unwrap_or_default().to_string();
        } else if current.len() + paragraph.len() > CHUNK_CHARS {
            flush(&mut current, &heading, &mut chunks);
        }
        for piece in split_long(paragraph) {
            if current.len() + piece.len() > CHUNK_CHARS {
                flush(&mut current, &heading, &mut chunks);
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(piece);
        }
    }
    flush(&mut current, &heading, &mut chunks);
    chunks
}

/// A paragraph longer than a chunk, cut at char boundaries into chunk-sized pieces.
fn split_long(paragraph: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = paragraph;
    while rest.len() > CHUNK_CHARS {
        let mut cut = CHUNK_CHARS;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = rest[..cut].rfind(char::is_whitespace).unwrap_or(cut).max(1);
        let cut = (1..=cut)
            .rev()
            .find(|&c| rest.is_char_boundary(c))
            .unwrap_or(cut);
        pieces.push(&rest[..cut]);
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_listed_once() {
        let mut sorted = STOPWORDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), STOPWORDS.len());
        assert!(is_stopword("said") && is_stopword("the") && !is_stopword("cello"));
    }

    #[test]
    fn query_terms_drop_function_words() {
        assert_eq!(
            query_terms("When did Caroline go to the LGBTQ support group?"),
            ["caroline", "go", "lgbtq", "support", "group"]
        );
        assert_eq!(fts_any(&query_terms("what is it?")), None);
        assert_eq!(
            fts_any(&["a\"b".to_string(), "c".to_string()]).unwrap(),
            "\"ab\" OR \"c\""
        );
    }

    #[test]
    fn markdown_splits_at_headings() {
        let md = "# Food\n\nI like pears.\n\nAnd figs.\n\n# Work\n\nI write Rust.";
        let chunks = markdown_chunks(md);
        assert_eq!(
            chunks,
            [
                "# Food\n\nI like pears.\n\nAnd figs.",
                "# Work\n\nI write Rust."
            ]
        );
        let long = format!("# Long\n\n{}", "word ".repeat(1000));
        let chunks = markdown_chunks(&long);
        assert!(chunks.len() > 3);
        assert!(chunks.iter().all(|c| c.len() <= CHUNK_CHARS + 10));
        assert!(chunks.iter().all(|c| c.starts_with("# Long")));
    }
}
