//! What a memory is: its kind, where it came from, and the shapes callers pass in and get back.

use serde::{Deserialize, Serialize};

/// Who a memory came from; recalled text is labelled with it, so the model can weigh
/// what the user said above what a web page said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Said or written by the user.
    User,
    /// Said or written by the agent.
    Agent,
    /// Text from outside (a web page, a file from elsewhere, a tool's output).
    Untrusted,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::User => "user",
            Provenance::Agent => "agent",
            Provenance::Untrusted => "untrusted",
        }
    }

    pub(crate) fn parse(text: &str) -> Provenance {
        match text {
            "user" => Provenance::User,
            "agent" => Provenance::Agent,
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

/// What [`crate::Memory::index_markdown_dir`] did.
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
