//! No tool may touch a path outside the workspace: not through `..`, an absolute
//! path, or a symlink planted inside the workspace.

use crate::common;

use std::path::Path;

use common::{call, call_err, call_ok, workspace, write};
use hearth_tools::workspace::{resolve_for_read, resolve_for_write};
use hearth_tools::PathError;
use serde_json::json;

fn outside_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secret.txt", "top secret");
    dir
}

#[tokio::test]
async fn dot_dot_cannot_escape_for_any_file_tool() {
    let (_dir, ctx) = workspace();
    let outside = outside_dir();
    let name = outside.path().file_name().unwrap().to_str().unwrap();
    let escape = format!("../{name}/secret.txt");
    let err = call_err(&ctx, "read_file", json!({"path": escape})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "write_file", json!({"path": escape, "content": "x"})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": escape, "old_string": "top", "new_string": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(
        &ctx,
        "write_file",
        json!({"path": "new/../../x.txt", "content": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "list_dir", json!({"path": ".."})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "grep", json!({"pattern": "secret", "path": ".."})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "glob", json!({"pattern": "*", "path": ".."})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[tokio::test]
async fn dot_dot_that_stays_inside_is_fine() {
    let (dir, ctx) = workspace();
    write(dir.path(), "a/b.txt", "inside");
    let out = call_ok(&ctx, "read_file", json!({"path": "a/../a/./b.txt"})).await;
    assert!(out.contains("inside"));
    call_ok(
        &ctx,
        "write_file",
        json!({"path": "new/../c.txt", "content": "c"}),
    )
    .await;
    assert!(dir.path().join("c.txt").is_file());
    assert!(!dir.path().join("new").exists());
}

#[tokio::test]
async fn absolute_paths_are_allowed_only_inside_the_workspace() {
    let (dir, ctx) = workspace();
    let outside = outside_dir();
    write(dir.path(), "in.txt", "inside");
    let inside = ctx.workspace.join("in.txt");
    let out = call_ok(&ctx, "read_file", json!({"path": inside.to_str().unwrap()})).await;
    assert!(out.contains("inside"));
    let secret = outside.path().join("secret.txt");
    let secret = secret.to_str().unwrap();
    let err = call_err(&ctx, "read_file", json!({"path": secret})).await;
    assert!(
        err.contains("outside the workspace") && err.contains(secret),
        "{err}"
    );
    let err = call_err(&ctx, "write_file", json!({"path": secret, "content": "x"})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "read_file", json!({"path": "/etc/passwd"})).await;
    assert!(err.contains("outside the workspace"), "{err}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_planted_symlink_to_outside_cannot_be_written_edited_or_read_through() {
    let (dir, ctx) = workspace();
    let outside = outside_dir();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link_dir")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link_file"),
    )
    .unwrap();

    let err = call_err(
        &ctx,
        "write_file",
        json!({"path": "link_dir/new.txt", "content": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(
        &ctx,
        "write_file",
        json!({"path": "link_file", "content": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "link_file", "old_string": "top", "new_string": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "link_dir/secret.txt", "old_string": "top", "new_string": "x"}),
    )
    .await;
    assert!(err.contains("outside the workspace"), "{err}");
    let err = call_err(&ctx, "read_file", json!({"path": "link_file"})).await;
    assert!(err.contains("outside the workspace"), "{err}");

    assert!(!outside.path().join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_dangling_symlink_is_not_followed_on_write() {
    let (dir, ctx) = workspace();
    let outside = outside_dir();
    let target = outside.path().join("created-through-link.txt");
    std::os::unix::fs::symlink(&target, dir.path().join("dangling")).unwrap();
    let err = call_err(
        &ctx,
        "write_file",
        json!({"path": "dangling", "content": "x"}),
    )
    .await;
    assert!(err.contains("symlink whose target does not exist"), "{err}");
    assert!(!target.exists());
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_that_stay_inside_the_workspace_work() {
    let (dir, ctx) = workspace();
    write(dir.path(), "real/file.txt", "real");
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
    let out = call_ok(&ctx, "read_file", json!({"path": "alias/file.txt"})).await;
    assert!(out.contains("real"));
    call_ok(
        &ctx,
        "write_file",
        json!({"path": "alias/new.txt", "content": "n"}),
    )
    .await;
    assert!(dir.path().join("real/new.txt").is_file());
}

#[test]
fn resolve_functions_return_clean_paths_and_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ws = std::fs::canonicalize(dir.path()).unwrap();
    write(&ws, "a.txt", "a");
    assert_eq!(resolve_for_read(&ws, "./a.txt").unwrap(), ws.join("a.txt"));
    assert_eq!(
        resolve_for_write(&ws, "x/./y/../z.txt").unwrap(),
        ws.join("x/z.txt")
    );
    assert!(matches!(
        resolve_for_read(&ws, "missing.txt"),
        Err(PathError::NotFound { .. })
    ));
    assert!(matches!(
        resolve_for_write(&ws, "  "),
        Err(PathError::Empty)
    ));
    assert!(matches!(
        resolve_for_write(&ws, "../x"),
        Err(PathError::OutsideWorkspace { .. })
    ));
    assert!(matches!(
        resolve_for_read(&ws, "/"),
        Err(PathError::OutsideWorkspace { .. })
    ));
    let err = resolve_for_write(&ws, "../x").unwrap_err().to_string();
    assert!(
        err.contains("'../x'") && err.contains("relative to the workspace root"),
        "{err}"
    );
    assert_eq!(resolve_for_read(&ws, ".").unwrap(), ws);
    assert!(Path::new(&ws).is_absolute());
}

#[tokio::test]
async fn file_tools_cannot_write_into_dot_git_anywhere() {
    // As in the sandbox, a repository's .git is read-only: a planted hook would run at
    // the user's next commit.
    let (dir, ctx) = workspace();
    write(dir.path(), ".git/HEAD", "ref: refs/heads/main\n");
    write(dir.path(), "vendor/lib/.git/config", "[core]\n");
    for path in [
        ".git/hooks/pre-commit",
        "vendor/lib/.git/config",
        "./.git/HEAD",
    ] {
        let err = call_err(&ctx, "write_file", json!({"path": path, "content": "x"})).await;
        assert!(err.contains(".git folder"), "{path}: {err}");
    }
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": ".git/HEAD", "old_string": "main", "new_string": "evil"}),
    )
    .await;
    assert!(err.contains(".git folder"), "{err}");
    assert!(!dir.path().join(".git/hooks/pre-commit").exists());
    // Reading is fine, and so is a file that merely has .git in its name.
    call_ok(&ctx, "read_file", json!({"path": ".git/HEAD"})).await;
    call_ok(
        &ctx,
        "write_file",
        json!({"path": "notes.git", "content": "x"}),
    )
    .await;
}

#[tokio::test]
async fn file_tools_write_nothing_in_read_only_mode() {
    let (dir, mut ctx) = workspace();
    write(dir.path(), "a.txt", "before");
    ctx.files.read_only = true;
    let err = call_err(&ctx, "write_file", json!({"path": "b.txt", "content": "x"})).await;
    assert!(err.contains("read-only"), "{err}");
    let err = call_err(
        &ctx,
        "edit_file",
        json!({"path": "a.txt", "old_string": "before", "new_string": "after"}),
    )
    .await;
    assert!(err.contains("read-only"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "before"
    );
    assert!(!dir.path().join("b.txt").exists());
    call_ok(&ctx, "read_file", json!({"path": "a.txt"})).await;
}

#[tokio::test]
async fn private_paths_inside_the_workspace_are_neither_read_written_nor_searched() {
    // `-C ~` puts HEARTH_HOME inside the workspace; the file tools leave it alone.
    let (dir, mut ctx) = workspace();
    write(
        dir.path(),
        ".hearth/secrets.json",
        "{\"github\": \"top secret\"}",
    );
    write(dir.path(), "notes.txt", "top secret plans");
    ctx.files.private = vec![ctx.workspace.join(".hearth")];
    let err = call_err(&ctx, "read_file", json!({"path": ".hearth/secrets.json"})).await;
    assert!(err.contains("private"), "{err}");
    let err = call_err(
        &ctx,
        "write_file",
        json!({"path": ".hearth/config.toml", "content": "[sandbox]\nmode = \"full-access\"\n"}),
    )
    .await;
    assert!(err.contains("private"), "{err}");
    assert!(!dir.path().join(".hearth/config.toml").exists());
    let err = call_err(&ctx, "list_dir", json!({"path": ".hearth"})).await;
    assert!(err.contains("private"), "{err}");
    let found = call_ok(&ctx, "grep", json!({"pattern": "top secret"})).await;
    assert!(found.contains("notes.txt"), "{found}");
    assert!(!found.contains("secrets.json"), "{found}");
    let found = call_ok(&ctx, "glob", json!({"pattern": "**/*.json"})).await;
    assert!(!found.contains("secrets.json"), "{found}");
}

/// Swaps two entries of a folder with `renameat2(RENAME_EXCHANGE)` in a loop, as a
/// process left behind by an earlier command could, until dropped.
struct EntrySwapper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl EntrySwapper {
    fn start(a: &Path, b: &Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        use std::sync::atomic::Ordering;
        let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
        let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut swaps = 0;
            while !stopped.load(Ordering::Relaxed) {
                // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
                let rc = unsafe {
                    libc::syscall(
                        libc::SYS_renameat2,
                        libc::AT_FDCWD,
                        a.as_ptr(),
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
                swaps += 1;
            }
            swaps
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop swapping; how many swaps were made.
    fn finish(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for EntrySwapper {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_folder_swapped_with_a_symlink_mid_call_never_leads_outside() {
    // The attack from the review: a survivor process keeps exchanging the folder `d`
    // with `d_link -> HEARTH_HOME` while the model reads and writes `d/config.toml`.
    let (dir, ctx) = workspace();
    let home = tempfile::tempdir().unwrap();
    write(home.path(), "config.toml", "OUTSIDE: mode = full-access");
    write(dir.path(), "d/config.toml", "inside");
    std::os::unix::fs::symlink(home.path(), dir.path().join("d_link")).unwrap();
    let swapper = EntrySwapper::start(&dir.path().join("d"), &dir.path().join("d_link"));
    let mut reads_ok = 0;
    let mut writes_ok = 0;
    for round in 0..200 {
        let read = call(&ctx, "read_file", json!({"path": "d/config.toml"})).await;
        assert!(
            !read.content.contains("OUTSIDE"),
            "round {round}: read_file read outside the workspace: {}",
            read.content
        );
        reads_ok += usize::from(!read.is_error);
        let content = format!("written in round {round}");
        let written = call(
            &ctx,
            "write_file",
            json!({"path": "d/config.toml", "content": content}),
        )
        .await;
        writes_ok += usize::from(!written.is_error);
    }
    let swaps = swapper.finish();
    assert!(swaps > 0, "the swapping thread never ran");
    assert_eq!(
        std::fs::read_to_string(home.path().join("config.toml")).unwrap(),
        "OUTSIDE: mode = full-access",
        "write_file wrote outside the workspace ({writes_ok} writes succeeded)"
    );
    let outside_names: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside_names, ["config.toml"], "{reads_ok} reads succeeded");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn edit_grep_and_list_dir_never_follow_a_folder_swapped_for_a_symlink() {
    let (dir, ctx) = workspace();
    let home = tempfile::tempdir().unwrap();
    write(home.path(), "config.toml", "SECRET");
    write(home.path(), "home-only.txt", "SECRET too");
    write(dir.path(), "d/config.toml", "inside");
    std::os::unix::fs::symlink(home.path(), dir.path().join("d_link")).unwrap();
    let swapper = EntrySwapper::start(&dir.path().join("d"), &dir.path().join("d_link"));
    for round in 0..100 {
        let out = call(
            &ctx,
            "edit_file",
            json!({"path": "d/config.toml", "old_string": "SECRET", "new_string": "pwned"}),
        )
        .await;
        assert!(out.is_error, "round {round}: {}", out.content);
        let out = call(&ctx, "grep", json!({"pattern": "S[E]CRET|inside"})).await;
        assert!(
            !out.content.contains("SECRET"),
            "round {round}: {}",
            out.content
        );
        let out = call(&ctx, "list_dir", json!({"path": "d"})).await;
        assert!(
            !out.content.contains("home-only"),
            "round {round}: {}",
            out.content
        );
    }
    assert!(swapper.finish() > 0, "the swapping thread never ran");
    assert_eq!(
        std::fs::read_to_string(home.path().join("config.toml")).unwrap(),
        "SECRET"
    );
}
