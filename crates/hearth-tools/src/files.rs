//! The file tools: `read_file`, `write_file`, `edit_file` and `list_dir`, all
//! confined to the workspace through [`crate::workspace`].

use std::io::ErrorKind;
use std::path::Path;

use hearth_protocol::ToolSpec;
use serde::Deserialize;
use serde_json::json;

use crate::text::{looks_binary, truncate_end};
use crate::{parse_args, Tool, ToolContext, ToolOutput};

/// Lines `read_file` returns when the model gives no `limit`.
const DEFAULT_READ_LIMIT: usize = 2000;
/// Characters of one line `read_file` shows before cutting it.
const MAX_LINE_CHARS: usize = 2000;
/// Characters of output `read_file` returns in one page, whatever the `limit`.
const MAX_READ_OUTPUT_CHARS: usize = 100_000;
/// Files larger than this are refused by `read_file` and `edit_file`.
const MAX_TEXT_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Entries `list_dir` shows.
const MAX_DIR_ENTRIES: usize = 1000;

fn spec(name: &str, description: &str, parameters: serde_json::Value) -> ToolSpec {
    ToolSpec {
        name: name.to_string(),
        description: description.to_string(),
        parameters,
    }
}

/// The path relative to the workspace, for messages (`.` for the root itself).
pub(crate) fn display_path(workspace: &Path, path: &Path) -> String {
    match path.strip_prefix(workspace) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// Read a whole text file for `tool`, refusing directories, huge files and binaries.
async fn read_text_file(tool: &str, path: &Path, shown: &str) -> Result<String, ToolOutput> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|err| io_error(tool, shown, &err))?;
    if meta.is_dir() {
        return Err(ToolOutput::error(format!(
            "{tool}: '{shown}' is a directory, not a file; use list_dir to see what it contains"
        )));
    }
    if meta.len() > MAX_TEXT_FILE_BYTES {
        return Err(ToolOutput::error(format!(
            "{tool}: '{shown}' is {} bytes, more than the {MAX_TEXT_FILE_BYTES}-byte limit; use grep to find the part you need",
            meta.len()
        )));
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|err| io_error(tool, shown, &err))?;
    if looks_binary(&bytes) {
        return Err(binary_refusal(tool, shown, "contains NUL bytes"));
    }
    String::from_utf8(bytes).map_err(|_| binary_refusal(tool, shown, "is not valid UTF-8"))
}

fn binary_refusal(tool: &str, shown: &str, why: &str) -> ToolOutput {
    ToolOutput::error(format!(
        "{tool}: '{shown}' looks like a binary file ({why}); only text files can be read or edited. Inspect it with exec (e.g. `file` or `xxd`) if you must"
    ))
}

fn io_error(tool: &str, shown: &str, err: &std::io::Error) -> ToolOutput {
    let hint = match err.kind() {
        ErrorKind::NotFound => "check the path with list_dir or glob",
        ErrorKind::PermissionDenied => "the file is not accessible to Hearth",
        _ => "check the path and try again",
    };
    ToolOutput::error(format!("{tool}: cannot access '{shown}': {err}; {hint}"))
}

fn path_error(tool: &str, err: crate::PathError) -> ToolOutput {
    ToolOutput::error(format!("{tool}: {err}"))
}

// ---------------------------------------------------------------- read_file

/// `read_file {path, offset?, limit?}`: line-numbered text, paged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadFileArgs {
    path: String,
    offset: Option<usize>,
    limit: Option<usize>,
}

#[async_trait::async_trait]
impl Tool for ReadFile {
    fn is_read_only(&self) -> bool {
        true
    }

    fn spec(&self) -> ToolSpec {
        spec(
            "read_file",
            "Read a text file with line numbers. Pages long files: use offset/limit to continue.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "offset": {"type": "integer", "description": "first line, 1-based"},
                "limit": {"type": "integer", "description": "max lines (2000)"}
            }, "required": ["path"]}),
        )
    }

    async fn call(&self, args: serde_json::Value, ctx: &ToolContext) -> ToolOutput {
        let args: ReadFileArgs = match parse_args("read_file", args) {
            Ok(args) => args,
            Err(err) => return err,
        };
        let path = match ctx.resolve_read(&args.path) {
            Ok(path) => path,
            Err(err) => return path_error("read_file", err),
        };
        let text = match read_text_file("read_file", &path, &args.path).await {
            Ok(text) => text,
            Err(err) => return err,
        };
        let offset = args.offset.unwrap_or(1).max(1);
        let limit = args.limit.unwrap_or(DEFAULT_READ_LIMIT).max(1);
        render_page(&args.path, &text, offset, limit)
    }
}

/// Lines `offset..offset+limit` of `text`, numbered, with a note on what remains.
fn render_page(shown: &str, text: &str, offset: usize, limit: usize) -> ToolOutput {
    let total_lines = text.lines().count();
    if total_lines == 0 {
        return ToolOutput::ok(format!("('{shown}' is empty)"));
    }
    if offset > total_lines {
        return ToolOutput::error(format!(
            "read_file: offset {offset} is past the end of '{shown}', which has {total_lines} lines; use an offset between 1 and {total_lines}"
        ));
    }
    let mut out = String::new();
    let mut next_line = offset;
    for (index, line) in text.lines().enumerate().skip(offset - 1).take(limit) {
        if out.len() >= MAX_READ_OUTPUT_CHARS {
            break;
        }
        let (kept, dropped) = truncate_end(line, MAX_LINE_CHARS);
        out.push_str(&format!("{:>6}\t{kept}", index + 1));
        if dropped > 0 {
            out.push_str(&format!(" [... line cut, {dropped} more characters]"));
        }
        out.push('\n');
        next_line = index + 2;
    }
    if next_line <= total_lines {
        let remaining = total_lines - next_line + 1;
        out.push_str(&format!(
            "[... {remaining} more lines; call read_file with offset={next_line} to continue]\n"
        ));
    }
    ToolOutput::ok(out)
}

// ---------------------------------------------------------------- write_file

/// `write_file {path, content}`: create or overwrite a file, creating parent folders.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteFileArgs {
    path: String,
    content: String,
}

#[async_trait::async_trait]
impl Tool for WriteFile {
    fn spec(&self) -> ToolSpec {
        spec(
            "write_file",
            "Create or overwrite a file with the given content; creates parent folders.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "content": {"type": "string"}
            }, "required": ["path", "content"]}),
        )
    }

    async fn call(&self, args: serde_json::Value, ctx: &ToolContext) -> ToolOutput {
        let args: WriteFileArgs = match parse_args("write_file", args) {
            Ok(args) => args,
            Err(err) => return err,
        };
        let path = match ctx.resolve_write(&args.path) {
            Ok(path) => path,
            Err(err) => return path_error("write_file", err),
        };
        let existed = match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_dir() => {
                return ToolOutput::error(format!(
                    "write_file: '{}' is a directory; give a file path inside it",
                    args.path
                ))
            }
            Ok(_) => true,
            Err(_) => false,
        };
        if let Some(parent) = path.parent() {
            if let Err(err) = tokio::fs::create_dir_all(parent).await {
                return io_error("write_file", &args.path, &err);
            }
        }
        if let Err(err) = tokio::fs::write(&path, args.content.as_bytes()).await {
            return io_error("write_file", &args.path, &err);
        }
        let verb = if existed { "Overwrote" } else { "Created" };
        ToolOutput::ok(format!(
            "{verb} '{}' ({} bytes written)",
            display_path(&ctx.workspace, &path),
            args.content.len()
        ))
    }
}

// ---------------------------------------------------------------- edit_file

/// `edit_file {path, old_string, new_string, replace_all?}`: exact text replacement.
#[derive(Debug, Clone, Copy, Default)]
pub struct EditFile;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EditFileArgs {
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

#[async_trait::async_trait]
impl Tool for EditFile {
    fn spec(&self) -> ToolSpec {
        spec(
            "edit_file",
            "Replace exact text in a file. old_string must match once unless replace_all is true.",
            json!({"type": "object", "properties": {
                "path": {"type": "string"},
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean"}
            }, "required": ["path", "old_string", "new_string"]}),
        )
    }

    async fn call(&self, args: serde_json::Value, ctx: &ToolContext) -> ToolOutput {
        let args: EditFileArgs = match parse_args("edit_file", args) {
            Ok(args) => args,
            Err(err) => return err,
        };
        if args.old_string.is_empty() {
            return ToolOutput::error(
                "edit_file: old_string is empty; give the exact text to replace, or use write_file to create a file",
            );
        }
        if args.old_string == args.new_string {
            return ToolOutput::error(
                "edit_file: old_string and new_string are identical, so nothing would change; give the new text in new_string",
            );
        }
        let path = match ctx.resolve_write(&args.path) {
            Ok(path) => path,
            Err(err) => return path_error("edit_file", err),
        };
        let text = match read_text_file("edit_file", &path, &args.path).await {
            Ok(text) => text,
            Err(err) => return err,
        };
        let edited = match replace_exact(&text, &args) {
            Ok(edited) => edited,
            Err(err) => return err,
        };
        if let Err(err) = tokio::fs::write(&path, edited.text.as_bytes()).await {
            return io_error("edit_file", &args.path, &err);
        }
        let plural = if edited.replacements == 1 { "" } else { "s" };
        ToolOutput::ok(format!(
            "Edited '{}': replaced {} occurrence{plural}",
            display_path(&ctx.workspace, &path),
            edited.replacements
        ))
    }
}

struct EditedText {
    text: String,
    replacements: usize,
}

fn replace_exact(text: &str, args: &EditFileArgs) -> Result<EditedText, ToolOutput> {
    let occurrences = text.matches(args.old_string.as_str()).count();
    if occurrences == 0 {
        return Err(ToolOutput::error(format!(
            "edit_file: old_string was not found in '{}'; read the file first (read_file) and copy the exact text, including whitespace and indentation, without line numbers",
            args.path
        )));
    }
    if occurrences > 1 && !args.replace_all {
        return Err(ToolOutput::error(format!(
            "edit_file: old_string occurs {occurrences} times in '{}'; include more surrounding lines to make it unique, or set replace_all to true to replace every occurrence",
            args.path
        )));
    }
    let text = if args.replace_all {
        text.replace(&args.old_string, &args.new_string)
    } else {
        text.replacen(&args.old_string, &args.new_string, 1)
    };
    Ok(EditedText {
        text,
        replacements: occurrences,
    })
}

// ---------------------------------------------------------------- list_dir

/// `list_dir {path}`: a directory's entries, sorted, directories marked with `/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListDir;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDirArgs {
    #[serde(default = "workspace_root")]
    path: String,
}

fn workspace_root() -> String {
    ".".to_string()
}

#[async_trait::async_trait]
impl Tool for ListDir {
    fn is_read_only(&self) -> bool {
        true
    }

    fn spec(&self) -> ToolSpec {
        spec(
            "list_dir",
            "List a directory's entries (folders end with /).",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "default: workspace root"}
            }}),
        )
    }

    async fn call(&self, args: serde_json::Value, ctx: &ToolContext) -> ToolOutput {
        let args: ListDirArgs = match parse_args("list_dir", args) {
            Ok(args) => args,
            Err(err) => return err,
        };
        let path = match ctx.resolve_read(&args.path) {
            Ok(path) => path,
            Err(err) => return path_error("list_dir", err),
        };
        match read_dir_sorted(&path).await {
            Ok(entries) => render_entries(&args.path, entries),
            Err(err) if err.kind() == ErrorKind::NotADirectory => ToolOutput::error(format!(
                "list_dir: '{}' is a file, not a directory; use read_file to read it",
                args.path
            )),
            Err(err) => io_error("list_dir", &args.path, &err),
        }
    }
}

/// Entry names (directories with a trailing `/`), sorted.
async fn read_dir_sorted(path: &Path) -> std::io::Result<Vec<String>> {
    let mut reader = tokio::fs::read_dir(path).await?;
    let mut entries = Vec::new();
    while let Some(entry) = reader.next_entry().await? {
        let mut name = entry.file_name().to_string_lossy().into_owned();
        // Follow symlinks so a link to a folder is shown as a folder.
        let is_dir = match tokio::fs::metadata(entry.path()).await {
            Ok(meta) => meta.is_dir(),
            Err(_) => false,
        };
        if is_dir {
            name.push('/');
        }
        entries.push(name);
    }
    entries.sort();
    Ok(entries)
}

fn render_entries(shown: &str, entries: Vec<String>) -> ToolOutput {
    if entries.is_empty() {
        return ToolOutput::ok(format!("('{shown}' is an empty directory)"));
    }
    let total = entries.len();
    let mut out = entries
        .into_iter()
        .take(MAX_DIR_ENTRIES)
        .collect::<Vec<_>>()
        .join("\n");
    if total > MAX_DIR_ENTRIES {
        out.push_str(&format!(
            "\n[... {} more entries; use glob to narrow the listing]",
            total - MAX_DIR_ENTRIES
        ));
    }
    ToolOutput::ok(out)
}
