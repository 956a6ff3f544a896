//! Resolving a path the model gave against the workspace root, so that no tool reads
//! or writes outside it: not with `..`, not with an absolute path, not through a
//! symlink that points elsewhere.
//!
//! The rule: canonicalize the deepest part of the path that exists (following every
//! symlink), append the rest with `..` and `.` resolved lexically, and require the
//! result to stay under the canonical workspace. A symlink that points nowhere is
//! refused, because writing through it would create its target wherever that is.
//!
//! This is the check by name only. The file tools then open the resolved path through
//! `crate::confined`, beneath a descriptor of the workspace root and following no
//! symlink, so a path that changes after this check (a folder swapped for a symlink)
//! fails to open rather than leading outside. A symlink inside the workspace that
//! points inside it keeps working: it is resolved here, and its target is what is opened.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

/// Why a path the model gave cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("the path is empty; give a path relative to the workspace root, e.g. 'src/main.rs'")]
    Empty,
    #[error("path '{path}' is outside the workspace ({workspace}); only paths inside it can be used, so give a path relative to the workspace root")]
    OutsideWorkspace { path: String, workspace: PathBuf },
    #[error("path '{path}' does not exist in the workspace; check the spelling, or use list_dir or glob to find the right path")]
    NotFound { path: String },
    #[error("path '{path}' goes through a symlink whose target does not exist ('{link}'); refusing to follow it, use a path without that symlink")]
    DanglingSymlink { path: String, link: PathBuf },
    #[error("path '{path}' cannot be written: the sandbox is read-only (--sandbox read-only); ask the user to run with --sandbox workspace-write to make changes")]
    ReadOnly { path: String },
    #[error("path '{path}' is inside a .git folder, which is read-only (as in the sandbox); change the repository with git commands the user runs, not by editing .git")]
    GitDir { path: String },
    #[error("path '{path}' is Hearth's own private data (config, secrets, state), which tools cannot read or write; leave it alone")]
    Private { path: String },
    #[error("path '{path}' cannot be resolved: {source}; check that it exists and is readable")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Resolve `p` for reading: it must exist and lie inside the workspace `ws`.
/// Returns the canonical path.
pub fn resolve_for_read(ws: &Path, p: &str) -> Result<PathBuf, PathError> {
    let resolved = resolve(ws, p)?;
    match std::fs::symlink_metadata(&resolved) {
        Ok(_) => Ok(resolved),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(PathError::NotFound {
            path: p.to_string(),
        }),
        Err(source) => Err(PathError::Io {
            path: p.to_string(),
            source,
        }),
    }
}

/// Resolve `p` for writing: it may not exist yet, but it (and every existing
/// ancestor, symlinks followed) must lie inside the workspace `ws`. Returns an
/// absolute path free of `..` and of symlinks in its existing part.
pub fn resolve_for_write(ws: &Path, p: &str) -> Result<PathBuf, PathError> {
    resolve(ws, p)
}

fn resolve(ws: &Path, p: &str) -> Result<PathBuf, PathError> {
    if p.trim().is_empty() {
        return Err(PathError::Empty);
    }
    let workspace = std::fs::canonicalize(ws).map_err(|source| PathError::Io {
        path: ws.display().to_string(),
        source,
    })?;
    let requested = Path::new(p);
    let joined = if requested.is_absolute() {
        requested.to_path_buf()
    } else {
        workspace.join(requested)
    };
    let (existing, pending) = canonical_existing_prefix(&joined, p)?;
    let resolved = append_lexically(existing, pending);
    if resolved.starts_with(&workspace) {
        Ok(resolved)
    } else {
        Err(PathError::OutsideWorkspace {
            path: p.to_string(),
            workspace,
        })
    }
}

/// A path component after the deepest existing ancestor.
enum PendingSegment {
    Name(OsString),
    Parent,
}

/// Split `path` into the canonical form of its deepest existing ancestor and the
/// segments after it that do not exist yet (in order).
fn canonical_existing_prefix(
    path: &Path,
    requested: &str,
) -> Result<(PathBuf, Vec<PendingSegment>), PathError> {
    let mut pending = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        match std::fs::canonicalize(&current) {
            Ok(canonical) => {
                pending.reverse();
                return Ok((canonical, pending));
            }
            Err(err) if err.kind() == ErrorKind::NotFound => {
                if std::fs::symlink_metadata(&current).is_ok() {
                    return Err(PathError::DanglingSymlink {
                        path: requested.to_string(),
                        link: current,
                    });
                }
            }
            Err(source) => {
                return Err(PathError::Io {
                    path: requested.to_string(),
                    source,
                })
            }
        }
        match current.components().next_back() {
            Some(Component::Normal(name)) => {
                pending.push(PendingSegment::Name(name.to_os_string()))
            }
            Some(Component::ParentDir) => pending.push(PendingSegment::Parent),
            Some(Component::CurDir) => {}
            // The root always exists, so reaching it means something else is wrong.
            Some(Component::RootDir | Component::Prefix(_)) | None => {
                return Err(PathError::NotFound {
                    path: requested.to_string(),
                })
            }
        }
        if !current.pop() {
            return Err(PathError::NotFound {
                path: requested.to_string(),
            });
        }
    }
}

/// Append not-yet-existing segments, resolving `..` without touching the disk.
fn append_lexically(mut base: PathBuf, pending: Vec<PendingSegment>) -> PathBuf {
    for segment in pending {
        match segment {
            PendingSegment::Name(name) => base.push(name),
            PendingSegment::Parent => {
                base.pop();
            }
        }
    }
    base
}
