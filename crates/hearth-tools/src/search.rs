//! The search tools: `glob` (find files by name pattern) and `grep` (find lines by
//! regex). Both walk the workspace with the `ignore` crate, so `.gitignore` (and
//! `.ignore`) rules are respected, on a blocking thread so the runtime stays free.
//! The walk never follows symlinks; the folder a search starts from and every file
//! `grep` reads are opened through [`crate::confined`] beneath the workspace root, so a
//! folder swapped for a symlink mid-search is refused or skipped, never read through.

use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use hearth_protocol::ToolSpec;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::confined::{self, ConfinedError, Lookup, OpenMode, WorkspaceRoot};
use crate::files::display_path;
use crate::text::{looks_binary, truncate_end};
use crate::{parse_args, Tool, ToolContext, ToolError, ToolOutput};

/// Paths `glob` lists.
const MAX_GLOB_RESULTS: usize = 500;
/// Matching lines `grep` shows.
const MAX_GREP_MATCHES: usize = 200;
/// Characters of a matching line `grep` shows.
const MAX_GREP_LINE_CHARS: usize = 300;
/// Files larger than this are skipped by `grep`.
const MAX_GREP_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A file pattern: with a `/` it matches the path relative to the search root,
/// without one it matches the file name at any depth (`*.rs`).
struct FilePattern {
    matcher: GlobMatcher,
    match_name_only: bool,
}

impl FilePattern {
    /// `pattern` as given in the argument `field`.
    fn new(field: &'static str, pattern: &str) -> Result<Self, ToolError> {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|err| ToolError::InvalidField {
                field,
                message: format!(
                    "invalid glob pattern '{pattern}': {err}; use e.g. '*.rs' or 'src/**/*.toml'"
                ),
            })?;
        Ok(Self {
            matcher: glob.compile_matcher(),
            match_name_only: !pattern.contains('/'),
        })
    }

    fn matches(&self, relative_path: &Path) -> bool {
        if self.match_name_only {
            relative_path
                .file_name()
                .is_some_and(|name| self.matcher.is_match(name))
        } else {
            self.matcher.is_match(relative_path)
        }
    }
}

/// Files under `root` (or `root` itself if it is a file), honouring ignore files,
/// hidden files included but `.git` and the `private` paths skipped, sorted. `None` if
/// cancelled.
fn walk_files(
    root: &Path,
    private: Vec<PathBuf>,
    cancel: &CancellationToken,
) -> Option<Vec<PathBuf>> {
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .filter_entry(move |entry| {
            entry.file_name() != ".git" && !private.iter().any(|p| entry.path().starts_with(p))
        })
        .build();
    let mut files = Vec::new();
    for entry in walker {
        if cancel.is_cancelled() {
            return None;
        }
        // Unreadable entries are skipped: one bad folder should not fail the search.
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_some_and(|t| t.is_file()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Some(files)
}

/// `file` relative to the search `root`; the file name when `root` is the file itself.
fn relative_to_root<'a>(root: &Path, file: &'a Path) -> &'a Path {
    match file.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel,
        _ => file.file_name().map_or(file, Path::new),
    }
}

/// Open the search root (`root`, resolved inside `workspace`) beneath the workspace
/// root the way the file tools do, refusing it if any part of it is now a symlink.
fn open_search_root(
    workspace: &Path,
    root: &Path,
    shown_root: &str,
) -> Result<WorkspaceRoot, ToolError> {
    let refuse = |err: &dyn std::fmt::Display| {
        ToolError::Failed(format!(
            "cannot search '{shown_root}': {err}; check the path with list_dir"
        ))
    };
    let workspace_root = WorkspaceRoot::open(workspace).map_err(|err| refuse(&err))?;
    let names = workspace_root.names_of(root).map_err(|err| refuse(&err))?;
    match confined::open_dir(workspace_root.as_fd(), &names, false, Lookup::Openat2) {
        Ok(_) => Ok(workspace_root),
        Err(ConfinedError::Io(err)) if err.kind() == std::io::ErrorKind::NotADirectory => {
            confined::open_file(workspace_root.as_fd(), &names, OpenMode::Read, false)
                .map(|_| workspace_root)
                .map_err(|err| refuse(&err))
        }
        Err(err) => Err(refuse(&err)),
    }
}

/// The bytes of `file` (a walked path inside the workspace), opened beneath the root
/// without following symlinks, and whether it is marked untrusted
/// (`crate::untrusted_files`); `None` if it cannot be read as a regular file or is too big.
fn read_beneath(root: &WorkspaceRoot, file: &Path) -> Option<(Vec<u8>, bool)> {
    let names = root.names_of(file).ok()?;
    let opened = confined::open_file(root.as_fd(), &names, OpenMode::Read, false).ok()?;
    let marked = crate::untrusted_files::file_mark(&opened.file).is_some();
    let size = opened.file.metadata().ok()?.len();
    if size > MAX_GREP_FILE_BYTES {
        return None;
    }
    let mut bytes = Vec::new();
    opened
        .file
        .take(MAX_GREP_FILE_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    Some((bytes, marked))
}

fn join_failed(err: tokio::task::JoinError) -> ToolError {
    ToolError::Failed(format!(
        "the search stopped unexpectedly ({err}); try again with a narrower path"
    ))
}

// ---------------------------------------------------------------- glob

/// `glob {pattern, path?}`: files matching a glob, relative to the workspace root.
#[derive(Debug, Clone, Copy, Default)]
pub struct Glob;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlobArgs {
    pattern: String,
    path: Option<String>,
}

#[async_trait::async_trait]
impl Tool for Glob {
    fn is_read_only(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "glob"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "glob".to_string(),
            description: "Find files by glob, e.g. 'src/**/*.rs'; no '/' matches names at any depth. Skips .gitignored files.".to_string(),
            parameters: json!({"type": "object", "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "folder to search (default: root)"}
            }, "required": ["pattern"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: GlobArgs = parse_args("glob", args)?;
        let pattern = FilePattern::new("pattern", &args.pattern)?;
        let shown_root = args.path.unwrap_or_else(|| ".".to_string());
        let root = ctx.resolve_read(&shown_root)?;
        let workspace = ctx.workspace.clone();
        let private = ctx.files.private.clone();
        let cancel = ctx.cancel.clone();
        let shown = shown_root.clone();
        let search = tokio::task::spawn_blocking(move || {
            open_search_root(&workspace, &root, &shown)?;
            let Some(files) = walk_files(&root, private, &cancel) else {
                return Err(ToolError::Cancelled);
            };
            let matched: Vec<String> = files
                .iter()
                .filter(|file| pattern.matches(relative_to_root(&root, file)))
                .map(|file| display_path(&workspace, file))
                .collect();
            Ok(matched)
        });
        let matched = search.await.map_err(join_failed)??;
        Ok(render_glob(&args.pattern, &shown_root, matched))
    }
}

fn render_glob(pattern: &str, shown_root: &str, matched: Vec<String>) -> ToolOutput {
    if matched.is_empty() {
        return ToolOutput::ok(format!(
            "No files match '{pattern}' under '{shown_root}' (ignored files are skipped)"
        ));
    }
    let total = matched.len();
    let mut out = matched
        .into_iter()
        .take(MAX_GLOB_RESULTS)
        .collect::<Vec<_>>()
        .join("\n");
    if total > MAX_GLOB_RESULTS {
        out.push_str(&format!(
            "\n[... {} more files; use a narrower pattern or path]",
            total - MAX_GLOB_RESULTS
        ));
    }
    ToolOutput::ok(out)
}

// ---------------------------------------------------------------- grep

/// `grep {pattern, path?, glob?}`: lines matching a regex, as `path:line:text`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Grep;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrepArgs {
    pattern: String,
    path: Option<String>,
    glob: Option<String>,
}

/// What a grep run found: the lines shown and how many more matched.
struct GrepFindings {
    lines: Vec<String>,
    /// Matching lines shown (a marked file's are one wrapped entry in `lines`).
    shown: usize,
    not_shown: usize,
}

#[async_trait::async_trait]
impl Tool for Grep {
    fn is_read_only(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "grep"
    }

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "grep".to_string(),
            description: "Regex search in files ((?i) ignores case); prints path:line:text. Skips .gitignored and binary files.".to_string(),
            parameters: json!({"type": "object", "properties": {
                "pattern": {"type": "string"},
                "path": {"type": "string", "description": "file or folder (default: root)"},
                "glob": {"type": "string", "description": "only files matching, e.g. '*.rs'"}
            }, "required": ["pattern"]}),
        }
    }

    async fn call(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args: GrepArgs = parse_args("grep", args)?;
        let regex = regex::Regex::new(&args.pattern).map_err(|err| ToolError::InvalidField {
            field: "pattern",
            message: format!(
                "invalid regex '{}': {err}; fix the pattern (escape special characters like ( [ . with a backslash)",
                args.pattern
            ),
        })?;
        let file_filter = args
            .glob
            .as_deref()
            .map(|glob| FilePattern::new("glob", glob))
            .transpose()?;
        let shown_root = args.path.unwrap_or_else(|| ".".to_string());
        let root = ctx.resolve_read(&shown_root)?;
        let workspace = ctx.workspace.clone();
        let private = ctx.files.private.clone();
        let cancel = ctx.cancel.clone();
        let shown = shown_root.clone();
        let search = tokio::task::spawn_blocking(move || {
            let workspace_root = open_search_root(&workspace, &root, &shown)?;
            let Some(files) = walk_files(&root, private, &cancel) else {
                return Err(ToolError::Cancelled);
            };
            let files = files.into_iter().filter(|file| match &file_filter {
                Some(filter) => filter.matches(relative_to_root(&root, file)),
                None => true,
            });
            grep_files(files, &regex, &workspace, &workspace_root, &cancel)
                .ok_or(ToolError::Cancelled)
        });
        let findings = search.await.map_err(join_failed)??;
        Ok(render_grep(&args.pattern, &shown_root, findings))
    }
}

/// Search each file line by line, each opened beneath `workspace_root`; `None` if
/// cancelled.
fn grep_files(
    files: impl Iterator<Item = PathBuf>,
    regex: &regex::Regex,
    workspace: &Path,
    workspace_root: &WorkspaceRoot,
    cancel: &CancellationToken,
) -> Option<GrepFindings> {
    let mut findings = GrepFindings {
        lines: Vec::new(),
        shown: 0,
        not_shown: 0,
    };
    for file in files {
        if cancel.is_cancelled() {
            return None;
        }
        // Unreadable, irregular (a FIFO) or too big: skipped, never waited on.
        let Some((bytes, marked)) = read_beneath(workspace_root, &file) else {
            continue;
        };
        if looks_binary(&bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let shown = display_path(workspace, &file);
        let mut matched = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if !regex.is_match(line) {
                continue;
            }
            if findings.shown >= MAX_GREP_MATCHES {
                findings.not_shown += 1;
                continue;
            }
            findings.shown += 1;
            let (kept, dropped) = truncate_end(line, MAX_GREP_LINE_CHARS);
            let cut_note = if dropped > 0 { " [...]" } else { "" };
            matched.push(format!("{shown}:{}:{kept}{cut_note}", index + 1));
        }
        // A file with untrusted contents: its lines are wrapped as outside text.
        if marked && !matched.is_empty() {
            matched = vec![crate::untrusted::wrap_untrusted(
                &format!("file:{shown}"),
                &matched.join("\n"),
            )];
        }
        findings.lines.extend(matched);
    }
    Some(findings)
}

fn render_grep(pattern: &str, shown_root: &str, findings: GrepFindings) -> ToolOutput {
    if findings.lines.is_empty() {
        return ToolOutput::ok(format!(
            "No matches for '{pattern}' under '{shown_root}' (ignored and binary files are skipped)"
        ));
    }
    let mut out = findings.lines.join("\n");
    if findings.not_shown > 0 {
        out.push_str(&format!(
            "\n[... {} more matches not shown; narrow the pattern, path or glob]",
            findings.not_shown
        ));
    }
    ToolOutput::ok(out)
}
