//! [`SkillAwareReadFile`]: `read_file` that can also read inside skill folders that live
//! outside the workspace (`~/.agents/skills`, `$HEARTH_HOME/skills`), read-only and
//! confined to those folders, so the prompt index can point at any `SKILL.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hearth_protocol::ToolSpec;
use hearth_tools::{Tool, ToolContext, ToolError, ToolOutput};

/// Wraps the workspace `read_file`: a path under one of the skill folders that live
/// outside the workspace is read with that folder as the root (so `..` and symlinks
/// cannot leave it); any other path goes to the wrapped tool unchanged. Same name and
/// schema as the wrapped tool.
pub struct SkillAwareReadFile {
    inner: Arc<dyn Tool>,
    skill_dirs: Vec<SkillDir>,
}

/// A skill folder as the prompt names it and as it really is (symlinks resolved).
struct SkillDir {
    shown: PathBuf,
    real: PathBuf,
}

impl SkillAwareReadFile {
    /// `inner` is the workspace `read_file`; `skill_dirs` the folders of the discovered skills.
    pub fn new(inner: Arc<dyn Tool>, skill_dirs: Vec<PathBuf>) -> Self {
        let skill_dirs = skill_dirs
            .into_iter()
            .filter_map(|shown| {
                let real = shown.canonicalize().ok()?;
                Some(SkillDir { shown, real })
            })
            .collect();
        Self { inner, skill_dirs }
    }

    /// The real skill folder holding `path` (absolute, or relative to `workspace` as the
    /// index shows workspace skills) and the rest of the path inside it. The folder is
    /// named as the prompt shows it, as it really is, or reached through symlinks
    /// (`skills/pdf` linking elsewhere, a `$HOME` with a symlink in it). Folders inside
    /// the workspace are left to the workspace `read_file`.
    fn locate(&self, path: &str, workspace: &Path) -> Option<(PathBuf, String)> {
        let requested = workspace.join(path);
        let real_requested = requested.canonicalize().ok();
        self.skill_dirs
            .iter()
            .filter(|dir| !dir.real.starts_with(workspace))
            .find_map(|dir| {
                let rest = requested
                    .strip_prefix(&dir.shown)
                    .or_else(|_| requested.strip_prefix(&dir.real))
                    .ok()
                    .map(Path::to_path_buf)
                    .or_else(|| {
                        let real = real_requested.as_ref()?;
                        real.strip_prefix(&dir.real).ok().map(Path::to_path_buf)
                    })?;
                let rest = rest.to_string_lossy().into_owned();
                Some((
                    dir.real.clone(),
                    if rest.is_empty() { ".".into() } else { rest },
                ))
            })
    }
}

#[async_trait::async_trait]
impl Tool for SkillAwareReadFile {
    fn is_read_only(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn spec(&self) -> ToolSpec {
        self.inner.spec()
    }

    async fn call(
        &self,
        mut args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let path = args
            .get("path")
            .and_then(|p| p.as_str())
            .unwrap_or_default();
        let Some((dir, rest)) = self.locate(path, &ctx.workspace) else {
            return self.inner.call(args, ctx).await;
        };
        args["path"] = serde_json::Value::String(rest);
        let mut skill_ctx = ctx.clone();
        skill_ctx.workspace = dir;
        self.inner.call(args, &skill_ctx).await
    }
}
