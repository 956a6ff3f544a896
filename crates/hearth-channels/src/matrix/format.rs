//! Matrix replies: the model's plain text as `body`, and as `formatted_body`
//! (`org.matrix.custom.html`) built only from escaped text (lines joined by `<br>`,
//! fenced code as `<pre><code>`), so nothing the model writes is markup. Long replies
//! are split at paragraph or code-block boundaries (the splitter Telegram uses).

use serde_json::{json, Value};

/// Largest chunk, in UTF-16 units: even escaped five times over, body and HTML stay
/// well inside Matrix's 64 KiB event limit.
pub const MESSAGE_LIMIT: usize = 6000;

/// `text` split into chunks of at most `limit` UTF-16 units.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    crate::telegram::format::split_blocks(text, limit)
}

/// Escapes everything HTML gives meaning to in text or an attribute.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A chunk as HTML: every line escaped, fenced code blocks as `<pre><code>`.
pub fn to_html(chunk: &str) -> String {
    let mut html = String::with_capacity(chunk.len() + 32);
    let mut code: Option<Vec<&str>> = None;
    let mut pending_break = false;
    for line in chunk.split('\n') {
        let fence = line.trim_start().starts_with("```");
        match (&mut code, fence) {
            (None, true) => code = Some(Vec::new()),
            (Some(body), true) => {
                html.push_str("<pre><code>");
                html.push_str(&escape_html(&body.join("\n")));
                html.push_str("</code></pre>");
                code = None;
                pending_break = false;
            }
            (Some(body), false) => body.push(line),
            (None, false) => {
                if pending_break {
                    html.push_str("<br>");
                }
                html.push_str(&escape_html(line));
                pending_break = true;
            }
        }
    }
    if let Some(body) = code {
        html.push_str("<pre><code>");
        html.push_str(&escape_html(&body.join("\n")));
        html.push_str("</code></pre>");
    }
    html
}

/// The `m.room.message` content of a chunk (`m.text`, or `m.notice` for Hearth's own
/// notices), in a thread when `thread` names its root.
pub fn message_content(chunk: &str, notice: bool, thread: &str) -> Value {
    let mut content = json!({
        "msgtype": if notice { "m.notice" } else { "m.text" },
        "body": chunk,
        "format": "org.matrix.custom.html",
        "formatted_body": to_html(chunk),
    });
    if !thread.is_empty() {
        content["m.relates_to"] = json!({ "rel_type": "m.thread", "event_id": thread });
    }
    content
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_markup_is_escaped_and_code_kept_as_code() {
        assert_eq!(
            to_html("<b>hi</b> & <script>x()</script>\nnext"),
            "&lt;b&gt;hi&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;<br>next"
        );
        assert_eq!(
            to_html("look:\n```sh\nrm -rf \"<dir>\"\n```"),
            "look:<pre><code>rm -rf &quot;&lt;dir&gt;&quot;</code></pre>"
        );
        let content = message_content("a", false, "$root");
        assert_eq!(content["m.relates_to"]["event_id"], "$root");
    }

    #[test]
    fn long_text_is_split_at_paragraphs_within_the_limit() {
        let paragraph = "word ".repeat(400);
        let text = [paragraph.trim(); 8].join("\n\n");
        let chunks = split(&text, MESSAGE_LIMIT);
        assert!(chunks.len() > 1);
        assert!(chunks
            .iter()
            .all(|chunk| chunk.encode_utf16().count() <= MESSAGE_LIMIT));
        assert_eq!(chunks.join("\n\n"), text);
    }
}
