//! What a memory is: its kind, where it came from, and the shapes callers pass in and get back.

use serde::{Deserialize, Serialize};

/// Who a memory came from; recalled text is labelled with it, so the model can weigh
/// what the user said above what it wrote itself, a workspace file or a web page said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Said or written by the user.
    User,
    /// Said or written by the agent (its replies, `memory_write` notes).
    Agent,
    /// Text from outside (a web page, a file from elsewhere, a tool's output).
    Untrusted,
    /// A chunk of a markdown file in a workspace's `memory/` folder, which anything that
    /// writes the workspace (the model included) may have written.
    File,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::User => "user",
            Provenance::Agent => "agent",
            Provenance::Untrusted => "untrusted",
            Provenance::File => "file",
        }
    }

    pub(crate) fn parse(text: &str) -> Provenance {
        match text {
            "user" => Provenance::User,
            "agent" => Provenance::Agent,
            "file" => Provenance::File,
            _ => Provenance::Untrusted,
        }
    }
}

/// What sort of memory an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A conversation turn captured from a session.
    Turn,
    /// An explicit note (`memory_write`, `hearth memory add`).
    Note,
    /// A chunk of a markdown file in `workspace/memory/`.
    File,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Turn => "turn",
            ItemKind::Note => "note",
            ItemKind::File => "file",
        }
    }

    pub(crate) fn parse(text: &str) -> ItemKind {
        match text {
            "turn" => ItemKind::Turn,
            "file" => ItemKind::File,
            _ => ItemKind::Note,
        }
    }
}

/// One conversation turn to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedTurn {
    /// The session it belongs to; turns of one session are kept in capture order.
    pub session_id: String,
    /// Who spoke ("user", "assistant", or a person's name).
    pub speaker: String,
    pub text: String,
    /// When it was said: RFC 3339 or LoCoMo's "1:56 pm on 8 May, 2023"; `None` is now.
    pub timestamp: Option<String>,
    pub provenance: Provenance,
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryItem {
    pub id: i64,
    pub kind: ItemKind,
    pub provenance: Provenance,
    /// Session id for turns, file path for file chunks, empty for notes.
    pub session: String,
    /// The workspace (canonical path) a file chunk belongs to: it is found only there.
    /// Empty for turns and notes, which every workspace finds.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub workspace: String,
    /// Position in its session (turns) or file (chunks), from 1.
    pub seq: i64,
    pub speaker: String,
    pub text: String,
    pub tags: Vec<String>,
    /// When it was said or written, RFC 3339 UTC.
    pub timestamp: String,
    /// `timestamp` as seconds since the Unix epoch.
    #[serde(skip)]
    pub unix_time: i64,
}

impl MemoryItem {
    /// Where the memory came from, as the model is shown it: "user note", "agent turn",
    /// "untrusted note", "file memory/plans.md".
    pub fn source_label(&self) -> String {
        match self.provenance {
            Provenance::File => {
                let prefix = format!("{}/", self.workspace);
                let shown = self.session.strip_prefix(&prefix).unwrap_or(&self.session);
                let shown: String = shown
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                format!("file {shown}")
            }
            other => format!("{} {}", other.as_str(), self.kind.as_str()),
        }
    }

    /// Whether a search from `workspace` may return this memory: a file chunk only in
    /// its own workspace (given as [`crate::workspace_key`] spells it), anything else
    /// everywhere.
    pub fn visible_from(&self, workspace: Option<&str>) -> bool {
        self.kind != ItemKind::File || workspace == Some(self.workspace.as_str())
    }
}

/// What [`crate::Memory::index_workspace_memory`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    /// Markdown files found.
    pub files: usize,
    /// Files (re-)indexed because they were new or changed.
    pub indexed: usize,
    /// Files gone from the folder whose chunks were removed.
    pub removed: usize,
    /// Chunks written.
    pub chunks: usize,
}
