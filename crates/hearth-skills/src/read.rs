//! [`SkillAwareReadFile`]: `read_file` that can also read inside skill folders that live
//! outside the workspace (`~/.agents/skills`, `$HEARTH_HOME/skills`), read-only and
//! confined to those folders, so the prompt index can point at any `SKILL.md`.

use std::path::PathBuf;
use std::sync::Arc;

use hearth_protocol::ToolSpec;
use hearth_tools::{Tool, ToolContext, ToolOutput};

/// Wraps the workspace `read_file`: a path under one of the skill folders is read with
/// that folder as the root (so `..` and symlinks cannot leave it); any other path goes
/// to the wrapped tool unchanged. Same name and schema as the wrapped tool.
pub struct SkillAwareReadFile {
    inner: Arc<dyn Tool>,
    skill_dirs: Vec<PathBuf>,
}

impl SkillAwareReadFile {
    /// `inner` is the workspace `read_file`; `skill_dirs` the folders of the discovered skills.
    pub fn new(inner: Arc<dyn Tool>, skill_dirs: Vec<PathBuf>) -> Self {
        let skill_dirs = skill_dirs
            .into_iter()
            .filter_map(|dir| dir.canonicalize().ok())
            .collect();
        Self { inner, skill_dirs }
    }

    /// The skill folder holding `path` and the rest of the path inside it.
    fn locate(&self, path: &str) -> Option<(PathBuf, String)> {
        let requested = PathBuf::from(path);
        if !requested.is_absolute() {
            return None;
        }
        self.skill_dirs.iter().find_map(|dir| {
            let rest = requested.strip_prefix(dir).ok()?;
            let rest = rest.to_string_lossy().into_owned();
            Some((dir.clone(), if rest.is_empty() { ".".into() } else { rest }))
        })
    }
}

#[async_trait::async_trait]
impl Tool for SkillAwareReadFile {
    fn is_read_only(&self) -> bool {
        true
    }

    fn spec(&self) -> ToolSpec {
        self.inner.spec()
    }

    async fn call(&self, mut args: serde_json::Value, ctx: &ToolContext) -> ToolOutput {
        let path = args
            .get("path")
            .and_then(|p| p.as_str())
            .unwrap_or_default();
        let Some((dir, rest)) = self.locate(path) else {
            return self.inner.call(args, ctx).await;
        };
        args["path"] = serde_json::Value::String(rest);
        let mut skill_ctx = ctx.clone();
        skill_ctx.workspace = dir;
        self.inner.call(args, &skill_ctx).await
    }
}
