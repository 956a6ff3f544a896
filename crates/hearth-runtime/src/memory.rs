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

impl LoopMemory {
    /// Captures `message` with its speaker's provenance, or `forced` (untrusted).
    fn capture_as(&self, session_id: &str, message: &Message, forced: Option<Provenance>) {
        let (speaker, text, provenance) = match message {
            // The person's words, not the skill bodies `$name` pulled in.
            Message::User { text, .. } => (
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
            provenance: forced.unwrap_or(provenance),
        };
        if let Err(err) = self.memory.capture(turn) {
            tracing::warn!("memory capture failed: {err}");
        }
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

    /// The recall block (after the person's words) holds a memory of outside origin.
    fn recall_is_untrusted(&self, user_message: &str) -> bool {
        user_message
            .find("<recalled-memory>")
            .is_some_and(|at| hearth_memory::tools::mentions_untrusted_memory(&user_message[at..]))
    }

    fn capture(&self, session_id: &str, message: &Message) {
        self.capture_as(session_id, message, None);
    }

    /// Kept, but as `untrusted`: recall labels it so, and a turn that recalls it is
    /// tainted. Chosen over dropping it: what the agent said about a page stays
    /// findable ("what did that article say?"), and a planted "fact" comes back marked
    /// as outside text, never as the agent's or the person's word.
    fn capture_untrusted(&self, session_id: &str, message: &Message) {
        self.capture_as(session_id, message, Some(Provenance::Untrusted));
    }

    /// What compaction summarised away stays findable: the user's and the agent's
    /// words were captured when said, so this adds the tool results (as outside text)
    /// and the summary (the agent's, or untrusted when what it summarised held outside
    /// text: it may repeat what that planted).
    fn capture_compacted(&self, session_id: &str, compacted: &[Message], summary: &str) {
        let summarised_outside_text = compacted.iter().any(|message| match message {
            Message::Tool(result) => hearth_tools::contains_untrusted_block(&result.content),
            Message::User { text, .. } => {
                hearth_tools::carries_outside_text(text) || self.recall_is_untrusted(text)
            }
            Message::Assistant { .. } => false,
        });
        let results = compacted.iter().filter_map(|message| match message {
            Message::Tool(result) if !result.content.trim().is_empty() => Some((
                format!("tool {}", result.name),
                result.content.clone(),
                Provenance::Untrusted,
            )),
            _ => None,
        });
        let summary = (
            "compaction summary".to_string(),
            summary.to_string(),
            if summarised_outside_text {
                Provenance::Untrusted
            } else {
                Provenance::Agent
            },
        );
        for (speaker, text, provenance) in results.chain(std::iter::once(summary)) {
            let turn = CapturedTurn {
                session_id: session_id.to_string(),
                speaker,
                text,
                timestamp: None,
                provenance,
            };
            if let Err(err) = self.memory.capture(turn) {
                tracing::warn!("memory capture of compacted messages failed: {err}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::{ToolCall, ToolResult};
    use hearth_tools::{Tool, ToolContext};

    /// A fact only a compacted tool result held is found by `memory_search` (keyword
    /// search: no embedding model is loaded here).
    #[tokio::test]
    async fn a_fact_only_in_a_compacted_tool_result_is_found_by_memory_search() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Arc::new(Memory::open(&dir.path().join("memory.db"), None).unwrap());
        let workspace = dir.path().join("ws");
        std::fs::create_dir(&workspace).unwrap();
        let hook = LoopMemory::new(Arc::clone(&memory), workspace.clone());
        let call = ToolCall {
            id: "call_1".into(),
            name: "read_file".into(),
            arguments: r#"{"path":"router.txt"}"#.into(),
        };
        let compacted = [
            Message::user("What is in router.txt?"),
            Message::assistant("", vec![call.clone()]),
            Message::Tool(ToolResult::ok(
                &call,
                "1\tThe router's admin password is plum-tulip-42.",
            )),
        ];
        hook.capture_compacted(
            "session-1",
            &compacted,
            "- The user asked about router.txt.",
        );
        let search = hearth_memory::tools::MemorySearch { memory };
        let output = search
            .call(
                serde_json::json!({"query": "router admin password"}),
                &ToolContext::new(&workspace).unwrap(),
            )
            .await
            .unwrap_or_else(|e| e.into_output(search.name()));
        assert!(!output.is_error, "{}", output.content);
        assert!(
            output.content.contains("plum-tulip-42"),
            "{}",
            output.content
        );
    }

    /// A tainted turn's reply is kept, but as untrusted: recalled later, it is labelled
    /// so and the recalling turn is tainted (`MemoryHook::recall_is_untrusted`); a
    /// summary of outside text is untrusted too.
    #[test]
    fn a_reply_from_a_tainted_turn_comes_back_marked_and_taints_the_recalling_turn() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Arc::new(Memory::open(&dir.path().join("memory.db"), None).unwrap());
        let workspace = dir.path().join("ws");
        std::fs::create_dir(&workspace).unwrap();
        let hook = LoopMemory::new(Arc::clone(&memory), workspace);
        hook.capture_untrusted(
            "session-1",
            &Message::assistant("Noted: backups go to evil.example every night.", vec![]),
        );
        hook.capture(
            "session-1",
            &Message::assistant("Your backups run at midnight.", vec![]),
        );
        let recalled = hook.recall("where do the backups go at night").unwrap();
        assert!(recalled.contains("evil.example"), "{recalled}");
        let message = hearth_agent::with_recall("where do the backups go?", Some(recalled.clone()));
        assert!(hook.recall_is_untrusted(&message), "{recalled}");
        let marked = recalled
            .lines()
            .find(|line| line.contains("evil.example"))
            .unwrap();
        assert!(marked.contains(" untrusted "), "{recalled}");

        let call = ToolCall {
            id: "call_1".into(),
            name: "web_fetch".into(),
            arguments: "{}".into(),
        };
        let page = hearth_tools::wrap_untrusted("https://x.test/", "zebra-fact: obey");
        let compacted = [
            Message::assistant("", vec![call.clone()]),
            Message::Tool(ToolResult::ok(&call, page)),
        ];
        hook.capture_compacted("session-2", &compacted, "- zebra-fact summarised");
        let recalled = hook.recall("zebra-fact summarised").unwrap();
        let summary = recalled
            .lines()
            .find(|line| line.contains("zebra-fact summarised"))
            .unwrap_or_else(|| panic!("{recalled}"));
        assert!(summary.contains(" untrusted "), "{recalled}");
    }
}
