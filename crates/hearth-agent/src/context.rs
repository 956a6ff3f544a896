//! The context builder: the stable system prompt (template + workspace instruction files)
//! and a report of what each part of a request costs in characters.

use std::path::{Path, PathBuf};

/// The system prompt template, kept in its own file and snapshot-tested.
pub const SYSTEM_TEMPLATE: &str = include_str!("../prompts/system.md");

/// Workspace files added to the system prompt, in this order, when present.
const INSTRUCTION_FILES: [&str; 2] = ["AGENTS.md", "USER.md"];

/// One named part of the context and its size, for `hearth context`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContextPart {
    pub name: String,
    pub chars: usize,
    /// Characters left out to stay within the budget.
    pub cut_chars: usize,
}

/// The system prompt and how it was assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrompt {
    pub text: String,
    pub parts: Vec<ContextPart>,
}

/// Builds the system prompt from the template, the sandbox description and the
/// workspace's instruction files. Deterministic: the same inputs give the same bytes.
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    workspace: PathBuf,
    sandbox_description: String,
    instruction_budget_chars: usize,
    sections: Vec<PromptSection>,
}

/// A section rendered elsewhere (e.g. the skills index) and appended after the
/// instruction files; it must be deterministic for the prefix to stay stable.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PromptSection {
    name: String,
    text: String,
    cut_chars: usize,
}

impl ContextBuilder {
    pub fn new(workspace: &Path, sandbox_description: &str) -> Self {
        Self {
            workspace: workspace.to_path_buf(),
            sandbox_description: sandbox_description.to_string(),
            instruction_budget_chars: 12_000,
            sections: Vec::new(),
        }
    }

    /// Appends `text` (rendered elsewhere, e.g. the skills index, and deterministic) after
    /// the workspace instruction files, as the part `name` of `hearth context` with
    /// `cut_chars` characters left out to fit its budget. An empty text adds nothing.
    pub fn with_section(mut self, name: &str, text: &str, cut_chars: usize) -> Self {
        if !text.is_empty() {
            self.sections.push(PromptSection {
                name: name.to_string(),
                text: text.to_string(),
                cut_chars,
            });
        }
        self
    }

    /// The most characters of `AGENTS.md` + `USER.md` the prompt will carry.
    pub fn with_instruction_budget(mut self, chars: usize) -> Self {
        self.instruction_budget_chars = chars;
        self
    }

    pub fn build(&self) -> SystemPrompt {
        let base = SYSTEM_TEMPLATE
            .replace("{{workspace}}", &self.workspace.display().to_string())
            .replace("{{sandbox}}", &self.sandbox_description);
        let mut parts = vec![ContextPart {
            name: "system prompt (prompts/system.md)".into(),
            chars: base.chars().count(),
            cut_chars: 0,
        }];
        let mut text = base;
        let mut budget = self.instruction_budget_chars;
        for name in INSTRUCTION_FILES {
            let Ok(content) = std::fs::read_to_string(self.workspace.join(name)) else {
                continue;
            };
            let content = content.trim();
            if content.is_empty() {
                continue;
            }
            let total = content.chars().count();
            let kept: String = content.chars().take(budget).collect();
            let kept_chars = kept.chars().count();
            budget -= kept_chars;
            let section = if kept_chars < total {
                format!(
                    "\n# {name} (from the workspace; cut to {kept_chars} of {total} characters)\n{kept}\n"
                )
            } else {
                format!("\n# {name} (from the workspace)\n{kept}\n")
            };
            parts.push(ContextPart {
                name: format!("workspace {name}"),
                chars: section.chars().count(),
                cut_chars: total - kept_chars,
            });
            text.push_str(&section);
        }
        for section in &self.sections {
            parts.push(ContextPart {
                name: section.name.clone(),
                chars: section.text.chars().count(),
                cut_chars: section.cut_chars,
            });
            text.push_str(&section.text);
        }
        SystemPrompt { text, parts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_deterministic_and_includes_instruction_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AGENTS.md"), "Always answer in French.").unwrap();
        let builder = ContextBuilder::new(dir.path(), "workspace-write, network off");
        let first = builder.build();
        assert_eq!(first, builder.build());
        assert!(first.text.contains("Always answer in French."));
        assert!(first.text.contains("workspace-write, network off"));
        assert_eq!(first.parts.len(), 2);
    }

    #[test]
    fn instruction_files_are_cut_to_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AGENTS.md"), "a".repeat(500)).unwrap();
        std::fs::write(dir.path().join("USER.md"), "b".repeat(500)).unwrap();
        let prompt = ContextBuilder::new(dir.path(), "x")
            .with_instruction_budget(600)
            .build();
        assert_eq!(prompt.parts[1].cut_chars, 0);
        assert_eq!(prompt.parts[2].cut_chars, 400);
        assert!(prompt.text.contains("cut to 100 of 500 characters"));
    }

    #[test]
    fn sections_come_after_the_instruction_files_and_empty_ones_add_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("AGENTS.md"), "Be brief.").unwrap();
        let plain = ContextBuilder::new(dir.path(), "x").build();
        let with_empty = ContextBuilder::new(dir.path(), "x")
            .with_section("skills (1)", "", 7)
            .build();
        assert_eq!(with_empty, plain);
        let prompt = ContextBuilder::new(dir.path(), "x")
            .with_section("skills (1)", "\n# Skills\n- pdf: forms\n", 7)
            .build();
        assert!(prompt.text.starts_with(&plain.text));
        assert!(prompt.text.ends_with("\n# Skills\n- pdf: forms\n"));
        let last = prompt.parts.last().unwrap();
        assert_eq!((last.name.as_str(), last.cut_chars), ("skills (1)", 7));
    }

    /// The template is part of the product: a change to it shows up as a snapshot diff.
    /// Run with `HEARTH_UPDATE_SNAPSHOTS=1` to accept a deliberate change.
    #[test]
    fn system_prompt_snapshot() {
        let prompt = ContextBuilder::new(
            Path::new("/home/user/.hearth/workspace"),
            "workspace-write, network off",
        )
        .build();
        hearth_testkit::snapshot::assert_matches(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/system_prompt.txt"),
            &prompt.text,
        );
    }
}
