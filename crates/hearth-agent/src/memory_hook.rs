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
