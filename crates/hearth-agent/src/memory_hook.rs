//! How the loop talks to long-term memory without depending on it: recall before a turn,
//! capture of what was said. The binary plugs `hearth-memory` in behind this trait.

use hearth_protocol::Message;

/// Long-term memory as the loop sees it. Both calls may block (recall embeds the
/// query, capture writes a durable row): the loop makes them on blocking threads, never
/// on a runtime worker. They must not fail the turn: errors are theirs to log.
pub trait MemoryHook: Send + Sync + 'static {
    /// Memories relevant to `user_text`, already formatted and marked as recalled
    /// memory, each with where it came from (the user, the agent, a workspace file,
    /// outside) and none able to close the mark, or `None` when nothing clears the bar.
    fn recall(&self, user_text: &str) -> Option<String>;

    /// Called for each user message and each assistant message with text, after it is
    /// stored in the session.
    fn capture(&self, session_id: &str, message: &Message);

    /// Called instead of [`MemoryHook::capture`] for a message that may carry an
    /// attacker's words: the agent's text in a turn whose context held untrusted content
    /// (it may repeat a "fact" a page planted), and a user message carrying outside text
    /// (`<untrusted-content>` blocks: a heartbeat probe's output, a mail body). Hearth's
    /// memory keeps it as `untrusted`, so recall labels it and a turn that recalls it is
    /// tainted ([`MemoryHook::recall_is_untrusted`]). The default drops it: a memory that
    /// cannot mark it must not remember it as trusted.
    fn capture_untrusted(&self, session_id: &str, message: &Message) {
        let _ = (session_id, message);
    }

    /// Called after a compaction with the messages it summarised away (user and
    /// assistant text was captured when said; tool results were not) and the summary,
    /// so what only they held stays findable. The default does nothing.
    fn capture_compacted(&self, session_id: &str, compacted: &[Message], summary: &str) {
        let _ = (session_id, compacted, summary);
    }

    /// Whether a stored user message (the person's words and the recall block
    /// [`with_recall`] appended) carries memories of outside origin: such a message
    /// taints the turn (`crate::TurnTaint`). The default: false.
    fn recall_is_untrusted(&self, user_message: &str) -> bool {
        let _ = user_message;
        false
    }
}

/// The user message as stored and sent: the person's words first (so titles and
/// displays start with them), then the recalled memories. Stored this way, later
/// requests repeat the same bytes and provider prompt caches keep hitting.
pub fn with_recall(user_text: &str, recalled: Option<String>) -> String {
    match recalled {
        Some(block) if !block.trim().is_empty() => format!("{user_text}\n\n{block}"),
        _ => user_text.to_string(),
    }
}
