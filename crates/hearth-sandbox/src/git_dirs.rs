//! Every git repository inside a workspace: their `.git` entries are made read-only in
//! the sandbox (a `.git/config` can name programs that the person's next `git status`
//! runs on the host), and repositories a command creates are reported.
//!
//! The walk is bounded (see [`MAX_ENTRIES`]) and never follows symlinks or enters a
//! hidden path; a `.git` deeper than the walk reaches is not protected, which the
//! crate's known limits state.

use std::path::{Path, PathBuf};

/// Directory entries looked at before the walk stops (a home directory as the
/// workspace can hold millions; the repositories that matter are near the top).
pub const MAX_ENTRIES: usize = 50_000;

/// Directories never descended into: caches of packages and builds, which hold no
/// repository a person works in and can hold hundreds of thousands of files.
const SKIPPED: [&str; 3] = ["node_modules", "target", ".cache"];

/// The `.git` entries (directories, or files in a worktree) under `workspace`, in walk
/// order, not looking inside the `hidden` paths that lie inside it.
pub(crate) fn find(workspace: &Path, hidden: &[PathBuf]) -> Vec<PathBuf> {
    let hidden: Vec<&PathBuf> = hidden
        .iter()
        .filter(|h| h.starts_with(workspace) && h.as_path() != workspace)
        .collect();
    let mut found = Vec::new();
    let mut pending = vec![workspace.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return found;
            }
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if entry.file_name() == ".git" {
                found.push(path);
                continue;
            }
            let skipped = SKIPPED.iter().any(|name| entry.file_name() == *name);
            if kind.is_dir() && !skipped && !hidden.iter().any(|h| path.starts_with(h)) {
                pending.push(path);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_repositories_but_not_in_hidden_or_skipped_folders() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path();
        for dir in [
            ".git",
            "sub/.git",
            "a/b/c/.git",
            "node_modules/x/.git",
            "home/.git",
        ] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        std::fs::create_dir_all(base.join("worktree")).unwrap();
        std::fs::write(base.join("worktree/.git"), "gitdir: ../.git/worktrees/w\n").unwrap();
        let mut found = find(base, &[base.join("home"), base.parent().unwrap().into()]);
        found.sort();
        let expected = [".git", "a/b/c/.git", "sub/.git", "worktree/.git"].map(|p| base.join(p));
        assert_eq!(found, expected);
    }
}
