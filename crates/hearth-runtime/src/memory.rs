//! Long-term memory in the loop: opens `$HEARTH_HOME/memory.db` with the local embedder
//! and adapts it to the agent's `MemoryHook` (recall before a turn, capture after).

use std::path::PathBuf;
use std::sync::Arc;

use hearth_agent::MemoryHook;
use hearth_memory::{CapturedTurn, Embedder, EmbedderSettings, Memory, Provenance};
use hearth_protocol::Message;

/// The most characters of recalled memory offered to the model before a turn.
pub const RECALL_BUDGET_CHARS: usize = 1_500;

/// The embedding model `settings` name, or `None` when it is not in the cache or does
/// not load: memory then works on keywords alone. Quiet (a log line), since every turn
/// opens memory; `hearth doctor` and `hearth memory` say it out loud.
pub fn load_embedder(settings: &EmbedderSettings) -> Option<Arc<Embedder>> {
    match embedder_status(settings) {
        Ok(embedder) => Some(embedder),
        // A model asked for by name that does not load is worth a warning.
        Err(why) if settings.chosen.is_some() => {
            tracing::warn!("{why}");
            None
        }
        Err(why) => {
            tracing::info!("{why}");
            None
        }
    }
}

/// The embedding model (the chosen one, else the default in the cache), or why it is
/// not available and what fixes that.
pub fn embedder_status(settings: &EmbedderSettings) -> Result<Arc<Embedder>, String> {
    match Embedder::load_default(settings) {
        Ok(Some(embedder)) => Ok(Arc::new(embedder)),
        Ok(None) => {
            let place = settings.model_dir().map_or_else(
                || "the model cache".to_string(),
                |d| d.display().to_string(),
            );
            Err(format!(
                "no embedding model in {place}; memory uses keywords only. Fetch it with `{}`",
                hearth_memory::FETCH_MODEL_HINT
            ))
        }
        Err(error) => Err(format!("{error}; memory uses keywords only")),
    }
}

/// `hearth-memory` behind the loop's hook. Failures are logged, never fatal to a turn.
pub struct LoopMemory {
    memory: Arc<Memory>,
    /// The turn's workspace: its memory files are recalled, other workspaces' never.
    workspace: PathBuf,
}

impl LoopMemory {
    pub fn new(memory: Arc<Memory>, workspace: PathBuf) -> Self {
        Self { memory, workspace }
    }
}

impl MemoryHook for LoopMemory {
    fn recall(&self, user_text: &str) -> Option<String> {
        let words = hearth_skills::without_mentions(user_text);
        match self
            .memory
            .recall_block(words, &self.workspace, RECALL_BUDGET_CHARS)
        {
            Ok(block) => block,
            Err(err) => {
                tracing::warn!("memory recall failed: {err}");
                None
            }
        }
    }

    fn capture(&self, session_id: &str, message: &Message) {
        let (speaker, text, provenance) = match message {
            // The person's words, not the skill bodies `$name` pulled in.
            Message::User { text } => (
                "user",
                hearth_skills::without_mentions(text),
                Provenance::User,
            ),
            Message::Assistant { text, .. } => ("assistant", text.as_str(), Provenance::Agent),
            Message::Tool(_) => return,
        };
        if text.trim().is_empty() {
            return;
        }
        let turn = CapturedTurn {
            session_id: session_id.to_string(),
            speaker: speaker.to_string(),
            text: text.to_string(),
            timestamp: None,
            provenance,
        };
        if let Err(err) = self.memory.capture(turn) {
            tracing::warn!("memory capture failed: {err}");
        }
    }
}
