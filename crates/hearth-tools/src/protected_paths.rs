//! What steers the agent (`AGENTS.md`, `skills/`, `.hearth/`, as the caller's
//! predicate says) kept out of a command's reach once untrusted content is in the
//! context: those that exist are bound read-only in its sandbox
//! (`SandboxPolicy::read_only_paths`), and those it created are removed when it ends,
//! before anything reads them. What it cannot cover: workspaces past
//! [`crate::untrusted_files::MAX_WALK_ENTRIES`] entries (paths beyond are not found),
//! and a command under `full-access` (no sandbox to bind them in; the injection policy
//! guards those commands itself).

use std::path::{Path, PathBuf};

use crate::untrusted_files::MAX_WALK_ENTRIES;

/// The paths under `workspace` that `is_protected` (given the path relative to the
/// workspace) picks, outermost only (a picked folder is not entered), not entering
/// `.git` folders (always read-only) nor the folders `skip` says, symlinks not
/// followed. Blocking: run it on a blocking thread.
pub fn find(
    workspace: &Path,
    is_protected: &dyn Fn(&Path) -> bool,
    skip: &dyn Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![workspace.to_path_buf()];
    let mut seen = 0usize;
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                return found;
            }
            if entry.file_name() == ".git" {
                continue;
            }
            let path = entry.path();
            let inside = path.strip_prefix(workspace).unwrap_or(&path);
            if is_protected(inside) {
                found.push(path);
                continue;
            }
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            if is_dir && !skip(&path) {
                folders.push(path);
            }
        }
    }
    found
}

/// Removes what is in `after` but not in `before` (what a command created), files,
/// symlinks and whole folders alike, never following a symlink; returns what it removed.
pub fn remove_created(before: &[PathBuf], after: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for path in after.into_iter().filter(|path| !before.contains(path)) {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let gone = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => removed.push(path),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot remove an instruction path a command created after untrusted content")
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outermost_picked_paths_are_found_and_only_new_ones_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("skills/pdf")).unwrap();
        std::fs::create_dir_all(root.join("docs/.git")).unwrap();
        std::fs::write(root.join("AGENTS.md"), "x").unwrap();
        std::fs::write(root.join("docs/.git/AGENTS.md"), "x").unwrap();
        let picked = |path: &Path| {
            path.file_name()
                .is_some_and(|name| name == "AGENTS.md" || name == "skills")
        };
        let mut before = find(root, &picked, &|_| false);
        before.sort();
        assert_eq!(before, vec![root.join("AGENTS.md"), root.join("skills")]);
        std::fs::create_dir_all(root.join("docs/AGENTS.md")).unwrap();
        std::fs::write(root.join("docs/AGENTS.md/x"), "x").unwrap();
        let removed = remove_created(&before, find(root, &picked, &|_| false));
        assert_eq!(removed, vec![root.join("docs/AGENTS.md")]);
        assert!(root.join("AGENTS.md").exists() && root.join("skills/pdf").exists());
    }
}
