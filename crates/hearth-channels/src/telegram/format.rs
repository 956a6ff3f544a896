//! Telegram's HTML parse mode: the model's text with every `&`, `<` and `>` escaped
//! (so nothing it writes is markup), fenced code blocks as `<pre>`, split into messages
//! of at most 4,096 characters (UTF-16 units, as Telegram counts) at paragraph or
//! code-block boundaries, then lines, then characters.

/// Telegram's limit on a message's text after entity parsing.
pub const MESSAGE_LIMIT: usize = 4096;

/// Escapes the three characters Telegram's HTML mode gives meaning to.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `text` as Telegram HTML messages, each within `limit` visible characters.
pub fn format_messages(text: &str, limit: usize) -> Vec<String> {
    split_blocks(text, limit)
        .iter()
        .map(|chunk| render(chunk))
        .collect()
}

/// One block of the text: a paragraph, or a fenced code block (fences included).
#[derive(Debug, PartialEq)]
struct Block {
    text: String,
    code: bool,
}

fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Paragraphs (separated by blank lines) and fenced code blocks, in order.
fn blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut in_code = false;
    let flush = |current: &mut Vec<&str>, blocks: &mut Vec<Block>, code: bool| {
        if !current.is_empty() {
            blocks.push(Block {
                text: current.join("\n"),
                code,
            });
            current.clear();
        }
    };
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        if in_code {
            current.push(line);
            if fence {
                flush(&mut current, &mut blocks, true);
                in_code = false;
            }
        } else if fence {
            flush(&mut current, &mut blocks, false);
            current.push(line);
            in_code = true;
        } else if line.trim().is_empty() {
            flush(&mut current, &mut blocks, false);
        } else {
            current.push(line);
        }
    }
    flush(&mut current, &mut blocks, in_code);
    blocks
}

/// Packs blocks into chunks within `limit`; a block too long alone is cut at lines
/// (a code block's pieces each get their own fences), a line too long at characters.
pub(crate) fn split_blocks(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(16);
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for block in blocks(text) {
        for piece in fit_block(&block, limit) {
            let joined = units(&current) + 2 + units(&piece);
            if !current.is_empty() && joined > limit {
                chunks.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    if !current.trim().is_empty() {
        chunks.push(current);
    }
    chunks
}

/// The block as pieces that each fit `limit`.
fn fit_block(block: &Block, limit: usize) -> Vec<String> {
    if units(&block.text) <= limit {
        return vec![block.text.clone()];
    }
    let (open, body, close) = if block.code {
        let mut lines: Vec<&str> = block.text.lines().collect();
        let open = lines.first().copied().unwrap_or("```").to_string();
        let closed = lines.len() > 1
            && lines
                .last()
                .is_some_and(|l| l.trim_start().starts_with("```"));
        if closed {
            lines.pop();
        }
        let body: Vec<&str> = lines.into_iter().skip(1).collect();
        (open, body, "```".to_string())
    } else {
        (String::new(), block.text.lines().collect(), String::new())
    };
    let overhead = if block.code {
        units(&open) + units(&close) + 2
    } else {
        0
    };
    let room = limit.saturating_sub(overhead).max(8);
    let mut pieces = Vec::new();
    let mut current = String::new();
    let push = |current: &mut String, pieces: &mut Vec<String>| {
        if current.is_empty() {
            return;
        }
        let body = std::mem::take(current);
        pieces.push(if block.code {
            format!("{open}\n{body}\n{close}")
        } else {
            body
        });
    };
    for line in body {
        for part in cut_line(line, room) {
            if !current.is_empty() && units(&current) + 1 + units(&part) > room {
                push(&mut current, &mut pieces);
            }
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&part);
        }
    }
    push(&mut current, &mut pieces);
    pieces
}

/// A line cut into parts of at most `room` UTF-16 units, at character boundaries.
fn cut_line(line: &str, room: usize) -> Vec<String> {
    if units(line) <= room {
        return vec![line.to_string()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf16() > room {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        used += c.len_utf16();
        current.push(c);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// A chunk as Telegram HTML: text escaped, fenced code as `<pre>`.
fn render(chunk: &str) -> String {
    let mut html = String::with_capacity(chunk.len() + 32);
    let lines = chunk.split('\n');
    let mut code: Option<Vec<&str>> = None;
    let mut first = true;
    for line in lines {
        let fence = line.trim_start().starts_with("```");
        match (&mut code, fence) {
            (None, true) => code = Some(Vec::new()),
            (Some(body), true) => {
                push_line(
                    &mut html,
                    &mut first,
                    &format!("<pre>{}</pre>", escape_html(&body.join("\n"))),
                );
                code = None;
            }
            (Some(body), false) => body.push(line),
            (None, false) => push_line(&mut html, &mut first, &escape_html(line)),
        }
    }
    if let Some(body) = code {
        push_line(
            &mut html,
            &mut first,
            &format!("<pre>{}</pre>", escape_html(&body.join("\n"))),
        );
    }
    html
}

fn push_line(html: &mut String, first: &mut bool, line: &str) {
    if !*first {
        html.push('\n');
    }
    *first = false;
    html.push_str(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_the_model_is_text() {
        assert_eq!(
            format_messages("<b>bold</b> & <script>alert(1)</script>", MESSAGE_LIMIT),
            vec!["&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"]
        );
    }

    #[test]
    fn code_blocks_become_pre_with_their_content_escaped() {
        let text = "Run:\n\n```sh\necho <x> && ls\n```\n\nDone.";
        assert_eq!(
            format_messages(text, MESSAGE_LIMIT),
            vec!["Run:\n\n<pre>echo &lt;x&gt; &amp;&amp; ls</pre>\n\nDone."]
        );
    }

    #[test]
    fn long_text_splits_at_paragraphs_and_keeps_code_blocks_whole() {
        let paragraph = "word ".repeat(300);
        let code = format!("```\n{}\n```", "let x = 1;\n".repeat(100).trim_end());
        let text = format!("{paragraph}\n\n{code}\n\n{paragraph}\n\n{paragraph}");
        let chunks = split_blocks(&text, MESSAGE_LIMIT);
        assert!(chunks.len() >= 2, "{}", chunks.len());
        for chunk in &chunks {
            assert!(units(chunk) <= MESSAGE_LIMIT);
            assert_eq!(
                chunk.matches("```").count() % 2,
                0,
                "a fence was cut: {chunk}"
            );
        }
        assert_eq!(
            chunks.join("\n\n").replace("\n\n", ""),
            text.replace("\n\n", "")
        );
    }

    #[test]
    fn a_code_block_longer_than_a_message_is_refenced_in_pieces() {
        let code = format!("```rust\n{}\n```", "fn f() {}\n".repeat(1000).trim_end());
        let chunks = split_blocks(&code, MESSAGE_LIMIT);
        assert!(chunks.len() >= 3);
        for chunk in &chunks {
            assert!(units(chunk) <= MESSAGE_LIMIT);
            assert!(
                chunk.starts_with("```rust\n") && chunk.ends_with("\n```"),
                "{chunk}"
            );
        }
    }

    #[test]
    fn a_line_longer_than_a_message_is_cut_at_characters() {
        let text = "é".repeat(9000);
        let chunks = split_blocks(&text, MESSAGE_LIMIT);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), text);
    }
}
