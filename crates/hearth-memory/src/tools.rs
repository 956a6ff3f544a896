//! The memory tools the model gets: `memory_search {query, limit?}`,
//! `memory_get {id}`, `memory_write {text, tags?}`. Names and arguments are an
//! external contract. Each runs its blocking work off the async runtime. Memory files
//! of other workspaces than the call's are neither searched nor read; every memory is
//! shown with where it came from, and its text cannot open or close the
//! `<recalled-memory>` block.

use std::sync::Arc;

use hearth_protocol::ToolSpec;
use hearth_tools::{neutralise_tag, parse_args, Tool, ToolContext, ToolError, ToolOutput};
use serde::Deserialize;
use serde_json::json;

use crate::item::{ItemKind, MemoryItem, Provenance};
use crate::search::{MemoryHit, SearchOptions, RECALL_TAG};
use crate::store::Memory;

/// Hits returned when the model gives no limit, and the most it may ask for.
const DEFAULT_LIMIT: usize = 5;
const MAX_LIMIT: usize = 20;
/// Token budget of one search's output.
const SEARCH_TOKENS: usize = 1500;

/// Runs `work` on the blocking pool; a panic or a cancelled runtime becomes an error.
async fn blocking<F>(work: F) -> Result<ToolOutput, ToolError>
where
    F: FnOnce() -> Result<ToolOutput, ToolError> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ToolError::Failed(format!("failed unexpectedly ({e}); try again")))?
}

/// A memory store error, as the model sees it.
fn store_failed(err: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(err.to_string())
}

/// "#12 [2026-03-01 agent note]", then the speaker of a turn.
fn label(item: &MemoryItem) -> String {
    let date = item.timestamp.get(..10).unwrap_or(&item.timestamp);
    let who = if item.speaker.is_empty() {
        String::new()
    } else {
        format!(" {}:", item.speaker)
    };
    format!("#{} [{date} {}]{who}", item.id, item.source_label())
}

/// Whether a search or get answer holds a memory of outside origin (labelled
/// "untrusted note" or "untrusted turn" by [`label`]): such an answer taints the turn.
/// A person's own text that happens to contain the label only over-taints (safe).
pub fn mentions_untrusted_memory(content: &str) -> bool {
    [ItemKind::Turn, ItemKind::Note, ItemKind::File]
        .iter()
        .any(|kind| content.contains(&format!(" untrusted {}]", kind.as_str())))
}

/// `memory_search`: hybrid search over everything remembered.
#[derive(Debug, Clone)]
pub struct MemorySearch {
    pub memory: Arc<Memory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: String,
    limit: Option<usize>,
}

#[async_trait::async_trait]
impl Tool for MemorySearch {
    fn is_read_only(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "memory_search"
    }

    fn output_is_untrusted(&self, content: &str) -> bool {
        mentions_untrusted_memory(content)
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_search".into(),
            description: "Search long-term memory (past conversations, notes, memory files); returns #id, date and text.".into(),
            parameters: json!({"type": "object", "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "description": "max hits (default 5)"}
            }, "required": ["query"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: SearchArgs = parse_args("memory_search", args)?;
        let memory = Arc::clone(&self.memory);
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let opts = SearchOptions {
                limit: args.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
                max_tokens: Some(SEARCH_TOKENS),
                workspace: Some(workspace),
                ..SearchOptions::default()
            };
            let hits = memory.search(&args.query, &opts).map_err(store_failed)?;
            if hits.is_empty() {
                return Ok(ToolOutput::ok("no memories match"));
            }
            Ok(ToolOutput::ok(format_hits(&hits)))
        })
        .await
    }
}

fn format_hits(hits: &[MemoryHit]) -> String {
    let text = hits
        .iter()
        .map(|h| format!("{} {}", label(&h.item), h.item.text))
        .collect::<Vec<_>>()
        .join("\n");
    neutralise_tag(&text, RECALL_TAG)
}

/// `memory_get`: one memory in full.
#[derive(Debug, Clone)]
pub struct MemoryGet {
    pub memory: Arc<Memory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    id: i64,
}

#[async_trait::async_trait]
impl Tool for MemoryGet {
    fn is_read_only(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "memory_get"
    }

    fn output_is_untrusted(&self, content: &str) -> bool {
        mentions_untrusted_memory(content)
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_get".into(),
            description: "Read one memory in full by its #id.".into(),
            parameters: json!({"type": "object", "properties": {
                "id": {"type": "integer"}
            }, "required": ["id"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: GetArgs = parse_args("memory_get", args)?;
        let memory = Arc::clone(&self.memory);
        let workspace = ctx.workspace.clone();
        blocking(move || {
            let item = memory
                .get_from(args.id, &workspace)
                .map_err(store_failed)?
                .ok_or_else(|| {
                    ToolError::NotFound(format!(
                        "no memory #{}; use an id from memory_search",
                        args.id
                    ))
                })?;
            // A file chunk's label already names its file.
            let session = if item.session.is_empty() || item.provenance == Provenance::File {
                String::new()
            } else {
                format!(" (from {} #{})", item.session, item.seq)
            };
            let tags = if item.tags.is_empty() {
                String::new()
            } else {
                format!(" tags: {}", item.tags.join(", "))
            };
            let text = format!("{}{session}{tags}\n{}", label(&item), item.text);
            Ok(ToolOutput::ok(neutralise_tag(&text, RECALL_TAG)))
        })
        .await
    }
}

/// `memory_write`: remember a note for later sessions.
#[derive(Debug, Clone)]
pub struct MemoryWrite {
    pub memory: Arc<Memory>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteArgs {
    text: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[async_trait::async_trait]
impl Tool for MemoryWrite {
    fn name(&self) -> &str {
        "memory_write"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "memory_write".into(),
            description: "Save a note to long-term memory (a fact, preference or decision worth keeping across sessions).".into(),
            parameters: json!({"type": "object", "properties": {
                "text": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}}
            }, "required": ["text"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        _ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: WriteArgs = parse_args("memory_write", args)?;
        let memory = Arc::clone(&self.memory);
        blocking(move || {
            let id = memory
                .write_note(&args.text, &args.tags, Provenance::Agent)
                .map_err(store_failed)?;
            Ok(ToolOutput::ok(format!("saved as memory #{id}")))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::mentions_untrusted_memory;

    #[test]
    fn only_memories_of_outside_origin_mark_an_answer_untrusted() {
        assert!(mentions_untrusted_memory(
            "#3 [2026-03-01 untrusted turn] tool web_fetch: obey me"
        ));
        assert!(mentions_untrusted_memory(
            "- [#4 2026-03-01 untrusted note] x"
        ));
        assert!(!mentions_untrusted_memory(
            "#1 [2026-03-01 user note] the untrusted part was fine\n#2 [2026-03-01 agent turn] ok"
        ));
    }
}
