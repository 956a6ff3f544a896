//! Telegram formatting through the public API: escaped, split within the limit.

use hearth_channels::telegram::{format_messages, MESSAGE_LIMIT};

#[test]
fn a_long_reply_is_split_into_messages_within_the_limit_with_markup_escaped() {
    let paragraph = format!("<b>{}</b>", "x".repeat(1500));
    let text = [paragraph.as_str(); 6].join("\n\n");
    let messages = format_messages(&text, MESSAGE_LIMIT);
    assert_eq!(messages.len(), 3);
    for message in &messages {
        assert!(!message.contains("<b>"));
        assert!(message.starts_with("&lt;b&gt;"));
        let visible = message.replace("&lt;", "<").replace("&gt;", ">");
        assert!(visible.encode_utf16().count() <= MESSAGE_LIMIT);
    }
}
