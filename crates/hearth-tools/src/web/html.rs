//! A small HTML-to-text converter for `web_fetch`: drops scripts, styles and the
//! head, turns block elements into line breaks, keeps link text, decodes the common
//! entities and collapses whitespace. Not a full HTML parser, and it need not be:
//! the result is read by a model, not rendered.

/// Elements dropped with everything inside them.
const SKIPPED_ELEMENTS: &[&str] = &[
    "script", "style", "head", "noscript", "template", "svg", "iframe", "object", "canvas",
];

/// Elements that start or end a line of text.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tr",
    "ul",
];

/// Block elements whose end tag adds no line break of its own (list items, rows).
const LINE_ELEMENTS: &[&str] = &["li", "tr", "dt", "dd"];

/// Readable text from an HTML document.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len() / 2);
    let mut pre_depth = 0usize;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        push_decoded(&mut raw, &rest[..lt], pre_depth > 0);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(tag) = parse_tag(rest) else {
            raw.push('<');
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];
        let name = tag.name.as_str();
        if name == "pre" {
            pre_depth = if tag.closing {
                pre_depth.saturating_sub(1)
            } else {
                pre_depth + 1
            };
        }
        if !tag.closing && !tag.self_closing && SKIPPED_ELEMENTS.contains(&name) {
            rest = skip_element_body(rest, name);
            raw.push('\n');
        } else if tag.closing && LINE_ELEMENTS.contains(&name) {
            // The next item starts its own line; no blank line between items.
        } else if BLOCK_ELEMENTS.contains(&name) {
            raw.push('\n');
            if name == "li" && !tag.closing {
                raw.push_str("- ");
            }
        } else if matches!(name, "td" | "th") {
            raw.push(' ');
        }
    }
    push_decoded(&mut raw, rest, pre_depth > 0);
    collapse_whitespace(&raw)
}

/// A tag at the start of the input: its lowercase name and length in bytes.
struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    len: usize,
}

/// Parse `<name ...>`, `</name>` or `<!...>` at the start of `input`; `None` when the
/// `<` does not begin a tag (as in `a < b`).
fn parse_tag(input: &str) -> Option<Tag> {
    let bytes = input.as_bytes();
    let mut pos = 1;
    let closing = bytes.get(pos) == Some(&b'/');
    let declaration = matches!(bytes.get(pos), Some(b'!' | b'?'));
    if closing || declaration {
        pos += 1;
    }
    let name_start = pos;
    while bytes.get(pos).is_some_and(|b| b.is_ascii_alphanumeric()) {
        pos += 1;
    }
    if pos == name_start && !declaration {
        return None;
    }
    let name = input[name_start..pos].to_ascii_lowercase();
    let mut quote: Option<u8> = None;
    while let Some(&byte) = bytes.get(pos) {
        match (quote, byte) {
            (Some(q), b) if b == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(byte),
            (None, b'>') => {
                let self_closing = pos > 0 && bytes[pos - 1] == b'/';
                let name = if declaration { String::new() } else { name };
                return Some(Tag {
                    name,
                    closing,
                    self_closing,
                    len: pos + 1,
                });
            }
            _ => {}
        }
        pos += 1;
    }
    // An unterminated tag swallows the rest of the document.
    Some(Tag {
        name: String::new(),
        closing,
        self_closing: false,
        len: input.len(),
    })
}

/// The input after the closing tag of `name`. If it never closes, a `head` is kept
/// (its end tag is optional in HTML) and anything else is dropped to the end.
fn skip_element_body<'a>(input: &'a str, name: &str) -> &'a str {
    let bytes = input.as_bytes();
    let mut search_from = 0;
    while let Some(found) = input[search_from..].find("</") {
        let start = search_from + found + 2;
        let end = start + name.len();
        let name_matches = bytes
            .get(start..end)
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes()));
        let boundary = bytes.get(end).is_none_or(|b| !b.is_ascii_alphanumeric());
        if name_matches && boundary {
            return input[end..]
                .find('>')
                .map_or("", |gt| &input[end + gt + 1..]);
        }
        search_from = start;
    }
    if name == "head" {
        input
    } else {
        ""
    }
}

/// Append `text` with HTML entities decoded (unknown ones kept as written). Line
/// breaks in the source are just whitespace, except inside `<pre>`.
fn push_decoded(out: &mut String, text: &str, keep_newlines: bool) {
    let start = out.len();
    push_entities_decoded(out, text);
    if !keep_newlines && out[start..].contains('\n') {
        let flattened = out[start..].replace('\n', " ");
        out.truncate(start);
        out.push_str(&flattened);
    }
}

fn push_entities_decoded(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity_end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = entity_end.and_then(|end| decode_entity(&rest[1..end]));
        match (decoded, entity_end) {
            (Some(c), Some(end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// The character for an entity name (`amp`, `#39`, `#x27`), if known.
fn decode_entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code);
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '–',
        "mdash" => '—',
        "hellip" => '…',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "middot" => '·',
        "bull" => '•',
        "deg" => '°',
        "times" => '×',
        "euro" => '€',
        _ => return None,
    };
    Some(c)
}

/// Collapse runs of spaces within lines, trim lines, and keep at most one blank
/// line between blocks.
fn collapse_whitespace(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_blank = false;
    for line in raw.split('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            pending_blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if pending_blank {
                out.push('\n');
            }
        }
        pending_blank = false;
        out.push_str(&words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_head_script_style_and_comments() {
        let html = "<html><HEAD><title>T</title><style>p{}</style></HEAD><body>\
                    <script type=\"text/javascript\">if (a < b) alert('x')</script>\
                    <!-- secret --><p>Hello</p><STYLE>.x{}</STYLE></body></html>";
        assert_eq!(html_to_text(html), "Hello");
    }

    #[test]
    fn blocks_become_lines_and_inline_text_stays_together() {
        let html = "<h1>Title</h1><p>One <b>bold</b> <a href=\"/x\">link</a>.</p>\
                    <ul><li>first</li><li>second</li></ul>line<br>break";
        assert_eq!(
            html_to_text(html),
            "Title\n\nOne bold link.\n\n- first\n- second\nline\nbreak"
        );
    }

    #[test]
    fn source_line_breaks_are_spaces_except_in_pre() {
        let html = "<p>one\ntwo</p>\n<ul>\n  <li>a</li>\n  <li>b</li>\n</ul><pre>x\ny</pre>";
        assert_eq!(html_to_text(html), "one two\n\n- a\n- b\n\nx\ny");
    }

    #[test]
    fn entities_are_decoded_and_unknown_ones_kept() {
        let html = "<p>a &amp; b &lt;c&gt; &quot;q&quot; &#39;s&#x27; &nbsp;x &bogus; AT&T</p>";
        assert_eq!(html_to_text(html), "a & b <c> \"q\" 's' x &bogus; AT&T");
    }

    #[test]
    fn stray_angle_brackets_and_unclosed_head_do_not_lose_text() {
        assert_eq!(html_to_text("1 < 2 and 3 > 2"), "1 < 2 and 3 > 2");
        assert_eq!(html_to_text("<head><meta charset=utf-8><p>body"), "body");
    }

    #[test]
    fn quoted_greater_than_inside_attributes_does_not_end_the_tag() {
        assert_eq!(html_to_text("<a title=\"x > y\">text</a>"), "text");
    }
}
