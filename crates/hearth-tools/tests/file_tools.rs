//! read_file, write_file, edit_file and list_dir: happy paths and the errors the
//! model must be able to recover from.

use crate::common;

use common::{call_err, call_ok, workspace, write};
use serde_json::json;

#[tokio::test]
async fn read_file_numbers_lines() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a.txt", "alpha\nbeta\r\ngamma\n");
    let out = call_ok(&ctx, "read_file", json!({"path": "a.txt"})).await;
    assert_eq!(out, "     1\talpha\n     2\tbeta\n     3\tgamma\n");
}

#[tokio::test]
async fn read_file_pages_with_offset_and_limit_and_says_how_to_continue() {
    let (dir, ctx) = workspace();
    let text: String = (1..=10).map(|n| format!("line {n}\n")).collect();
    write(dir.path(), "ten.txt", text);
    let out = call_ok(
        &ctx,
        "read_file",
        json!({"path": "ten.txt", "offset": 3, "limit": 4}),
    )
    .await;
    assert!(out.starts_with("     3\tline 3\n"), "{out}");
    assert!(out.contains("     6\tline 6\n"));
    assert!(!out.contains("line 7"));
    assert!(
        out.contains("4 more lines; call read_file with offset=7"),
        "{out}"
    );
    let last = call_ok(&ctx, "read_file", json!({"path": "ten.txt", "offset": 7})).await;
    assert!(last.ends_with("    10\tline 10\n"), "{last}");
    assert!(!last.contains("more lines"));
}

#[tokio::test]
async fn read_file_defaults_to_2000_lines() {
    let (dir, ctx) = workspace();
    let text: String = (1..=2500).map(|n| format!("{n}\n")).collect();
    write(dir.path(), "long.txt", text);
    let out = call_ok(&ctx, "read_file", json!({"path": "long.txt"})).await;
    assert!(out.contains("  2000\t2000\n"));
    assert!(!out.contains("  2001\t"));
    assert!(out.contains("500 more lines; call read_file with offset=2001"));
}

#[tokio::test]
async fn read_file_offset_past_end_is_an_error_naming_the_line_count() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a.txt", "one\ntwo\n");
    let err = call_err(&ctx, "read_file", json!({"path": "a.txt", "offset": 9})).await;
    assert!(
        err.contains("offset 9 is past the end") && err.contains("2 lines"),
        "{err}"
    );
}

#[tokio::test]
async fn read_file_cuts_long_lines() {
    let (dir, ctx) = workspace();
    write(dir.path(), "wide.txt", "x".repeat(2500));
    let out = call_ok(&ctx, "read_file", json!({"path": "wide.txt"})).await;
    assert!(
        out.contains("[... line cut, 500 more characters]"),
        "{}",
        &out[out.len() - 80..]
    );
    assert!(out.len() < 2100);
}

#[tokio::test]
async fn read_file_refuses_binary_files() {
    let (dir, ctx) = workspace();
    write(dir.path(), "nul.bin", b"abc\0def");
    write(dir.path(), "latin.bin", b"caf\xe9 \xff\xfe");
    let err = call_err(&ctx, "read_file", json!({"path": "nul.bin"})).await;
    assert!(err.contains("binary") && err.contains("NUL"), "{err}");
    let err = call_err(&ctx, "read_file", json!({"path": "latin.bin"})).await;
    assert!(err.contains("binary") && err.contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn read_file_errors_for_missing_files_and_directories() {
    let (dir, ctx) = workspace();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let err = call_err(&ctx, "read_file", json!({"path": "nope.txt"})).await;
    assert!(
        err.contains("'nope.txt' does not exist") && err.contains("glob"),
        "{err}"
    );
    let err = call_err(&ctx, "read_file", json!({"path": "sub"})).await;
    assert!(
        err.contains("is a directory") && err.contains("list_dir"),
        "{err}"
    );
}

#[tokio::test]
async fn read_file_of_an_empty_file_says_so() {
    let (dir, ctx) = workspace();
    write(dir.path(), "empty.txt", "");
    let out = call_ok(&ctx, "read_file", json!({"path": "empty.txt"})).await;
    assert!(out.contains("is empty"));
}

#[tokio::test]
async fn write_file_creates_parents_then_reports_overwrite() {
    let (dir, ctx) = workspace();
    let out = call_ok(
        &ctx,
        "write_file",
        json!({"path": "a/b/c.txt", "content": "héllo"}),
    )
    .await;
    assert_eq!(out, "Created 'a/b/c.txt' (6 bytes written)");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a/b/c.txt")).unwrap(),
        "héllo"
    );
    let out = call_ok(
        &ctx,
        "write_file",
        json!({"path": "a/b/c.txt", "content": "bye"}),
    )
    .await;
    assert_eq!(out, "Overwrote 'a/b/c.txt' (3 bytes written)");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a/b/c.txt")).unwrap(),
        "bye"
    );
}

#[tokio::test]
async fn write_file_refuses_to_replace_a_directory() {
    let (dir, ctx) = workspace();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let err = call_err(&ctx, "write_file", json!({"path": "sub", "content": "x"})).await;
    assert!(err.contains("is a directory"), "{err}");
}

#[tokio::test]
async fn edit_file_replaces_a_unique_string() {
    let (dir, ctx) = workspace();
    write(
        dir.path(),
        "m.rs",
        "fn main() {\n    println!(\"hi\");\n}\n",
    );
    let out = call_ok(
        &ctx,
        "edit_file",
        json!({"path": "m.rs", "old_string": "\"hi\"", "new_string": "\"hello\""}),
    )
    .await;
    assert_eq!(out, "Edited 'm.rs': replaced 1 occurrence");
    let text = std::fs::read_to_string(dir.path().join("m.rs")).unwrap();
    assert_eq!(text, "fn main() {\n    println!(\"hello\");\n}\n");
}

#[tokio::test]
async fn edit_file_missing_old_string_suggests_reading_first() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a.txt", "one two");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "a.txt", "old_string": "three", "new_string": "3"}),
    )
    .await;
    assert!(
        err.contains("not found") && err.contains("read_file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "one two"
    );
}

#[tokio::test]
async fn edit_file_non_unique_says_how_many_and_replace_all_replaces_them() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a.txt", "x = 1; x = 2; x = 3;");
    let args = json!({"path": "a.txt", "old_string": "x =", "new_string": "y ="});
    let err = call_err(&ctx, "edit_file", args).await;
    assert!(
        err.contains("occurs 3 times") && err.contains("replace_all"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "x = 1; x = 2; x = 3;"
    );
    let args =
        json!({"path": "a.txt", "old_string": "x =", "new_string": "y =", "replace_all": true});
    let out = call_ok(&ctx, "edit_file", args).await;
    assert_eq!(out, "Edited 'a.txt': replaced 3 occurrences");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "y = 1; y = 2; y = 3;"
    );
}

#[tokio::test]
async fn edit_file_rejects_identical_and_empty_strings_and_binaries() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a.txt", "same");
    write(dir.path(), "b.bin", b"\0\0same");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "a.txt", "old_string": "same", "new_string": "same"}),
    )
    .await;
    assert!(err.contains("identical"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "a.txt", "old_string": "", "new_string": "x"}),
    )
    .await;
    assert!(
        err.contains("old_string is empty") && err.contains("write_file"),
        "{err}"
    );
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "b.bin", "old_string": "same", "new_string": "x"}),
    )
    .await;
    assert!(err.contains("binary"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "none.txt", "old_string": "a", "new_string": "b"}),
    )
    .await;
    assert!(err.contains("none.txt"), "{err}");
}

#[tokio::test]
async fn list_dir_sorts_and_marks_directories() {
    let (dir, ctx) = workspace();
    write(dir.path(), "b.txt", "");
    write(dir.path(), "a.txt", "");
    write(dir.path(), "src/lib.rs", "");
    write(dir.path(), ".hidden", "");
    let out = call_ok(&ctx, "list_dir", json!({"path": "."})).await;
    assert_eq!(out, ".hidden\na.txt\nb.txt\nsrc/");
    let out = call_ok(&ctx, "list_dir", json!({})).await;
    assert_eq!(out, ".hidden\na.txt\nb.txt\nsrc/");
    let out = call_ok(&ctx, "list_dir", json!({"path": "src"})).await;
    assert_eq!(out, "lib.rs");
}

#[tokio::test]
async fn list_dir_caps_long_listings_and_explains_errors() {
    let (dir, ctx) = workspace();
    for n in 0..1005 {
        write(dir.path(), &format!("many/f{n:04}"), "");
    }
    let out = call_ok(&ctx, "list_dir", json!({"path": "many"})).await;
    assert_eq!(out.lines().count(), 1001);
    assert!(
        out.ends_with("[... 5 more entries; use glob to narrow the listing]"),
        "{out}"
    );
    write(dir.path(), "file.txt", "");
    let err = call_err(&ctx, "list_dir", json!({"path": "file.txt"})).await;
    assert!(
        err.contains("is a file") && err.contains("read_file"),
        "{err}"
    );
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    assert!(call_ok(&ctx, "list_dir", json!({"path": "empty"}))
        .await
        .contains("empty directory"));
}

/// Make a FIFO at `path`.
#[cfg(unix)]
fn mkfifo(path: &std::path::Path) {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated string.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// Call a tool that might block on the FIFO at `fifo`. Purely a hang guard: if the call
/// has not returned after 10 s, open the FIFO from both ends so the blocked call can
/// finish (and the runtime can shut down), then fail.
#[cfg(unix)]
async fn call_beside_fifo(
    ctx: &hearth_tools::ToolContext,
    fifo: &std::path::Path,
    name: &str,
    args: serde_json::Value,
) -> hearth_tools::ToolOutput {
    use std::os::unix::fs::OpenOptionsExt;
    let guarded = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        common::call(ctx, name, args),
    );
    match guarded.await {
        Ok(out) => out,
        Err(_) => {
            let release = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo);
            drop(release);
            panic!("{name} hung on the FIFO '{}'", fifo.display());
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn file_tools_refuse_a_fifo_instead_of_hanging() {
    let (dir, ctx) = workspace();
    let fifo = dir.path().join("pipe");
    mkfifo(&fifo);
    std::os::unix::fs::symlink("pipe", dir.path().join("pipe_link")).unwrap();
    for path in ["pipe", "pipe_link"] {
        for (tool, args) in [
            ("read_file", json!({"path": path})),
            ("write_file", json!({"path": path, "content": "x"})),
            (
                "edit_file",
                json!({"path": path, "old_string": "a", "new_string": "b"}),
            ),
        ] {
            let out = call_beside_fifo(&ctx, &fifo, tool, args).await;
            assert!(out.is_error, "{tool} {path}: {}", out.content);
            assert!(
                out.content.contains("not a regular file") && out.content.contains("FIFO"),
                "{tool} {path}: {}",
                out.content
            );
        }
    }
    // Still a FIFO: nothing replaced it.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[cfg(unix)]
#[tokio::test]
async fn file_tools_refuse_devices_reached_through_a_symlink() {
    let (dir, ctx) = workspace();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("null")).unwrap();
    let guard = std::time::Duration::from_secs(10);
    let read = common::call(&ctx, "read_file", json!({"path": "zero"}));
    let out = tokio::time::timeout(guard, read)
        .await
        .expect("read_file hung");
    assert!(out.is_error, "{}", out.content);
    let write = common::call(&ctx, "write_file", json!({"path": "null", "content": "x"}));
    let out = tokio::time::timeout(guard, write)
        .await
        .expect("write_file hung");
    assert!(out.is_error, "{}", out.content);
}
