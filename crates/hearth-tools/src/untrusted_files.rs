//! Files whose contents came from outside the person's control: written by a tool while
//! untrusted content was in the context, or changed by a command that had network.
//! Such a file carries a mark (the extended attribute `user.hearth.untrusted`, naming
//! where its contents came from), so reading it back (`read_file`) wraps its text as
//! untrusted and taints the turn, in this session, after a resume and in any later one.
//!
//! The mark lives with the file: a rename keeps it, a `write_file` from a clean context
//! (which replaces the whole file) clears it. A command run while the context is
//! tainted, or with network, marks every regular file in the workspace whose status
//! changed while it ran (ctime, which no command can set back), so copying a marked file
//! or removing its mark in such a command marks the result again. What it cannot see:
//! files on a file system without user extended attributes (the mark fails, logged),
//! and workspaces past [`MAX_WALK_ENTRIES`] entries (the rest is not marked, said in
//! the command's result).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The extended attribute that marks a file as holding untrusted content.
const MARK: &std::ffi::CStr = c"user.hearth.untrusted";
/// Bytes of the mark's value (where the contents came from) kept at most.
const MAX_ORIGIN_BYTES: usize = 256;
/// Entries of the workspace looked at, at most, after a command.
pub const MAX_WALK_ENTRIES: usize = 50_000;

/// Marks the open `file` as holding untrusted content from `origin`.
pub fn mark_file(file: &File, origin: &str) -> io::Result<()> {
    let value = cut(origin);
    // SAFETY: the descriptor is open for the call, the name is a C string and the
    // value a live buffer of the given length.
    let done = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            MARK.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes the mark from the open `file` (a whole new content from a clean context).
pub fn clear_file_mark(file: &File) {
    // SAFETY: as in `mark_file`; a missing attribute is the usual answer.
    unsafe { libc::fremovexattr(file.as_raw_fd(), MARK.as_ptr()) };
}

/// Where the open `file`'s untrusted contents came from, if it is marked.
pub fn file_mark(file: &File) -> Option<String> {
    let mut buf = vec![0u8; MAX_ORIGIN_BYTES];
    // SAFETY: the buffer is live and as long as said.
    let got = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            MARK.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let len = usize::try_from(got).ok()?;
    buf.truncate(len);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The moment to compare ctimes with for a command starting now: the coarse real-time
/// clock, the one file timestamps come from (the fine clock may be a tick ahead of
/// them). A file changed in the same tick just before the command is marked too, never
/// one the command changed left out.
pub fn command_start() -> SystemTime {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a live timespec the call fills.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut now) } != 0 {
        return SystemTime::now();
    }
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(now.tv_nsec).unwrap_or(0);
    UNIX_EPOCH + Duration::new(seconds, nanos)
}

/// When `path`'s status last changed (its ctime), if it can be read.
pub fn status_changed(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let seconds = u64::try_from(meta.ctime()).ok()?;
    let nanos = u32::try_from(meta.ctime_nsec()).ok()?;
    Some(UNIX_EPOCH + Duration::new(seconds, nanos))
}

/// What [`mark_changed_since`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MarkedFiles {
    /// The files marked, in walk order.
    pub marked: Vec<PathBuf>,
    /// The walk stopped at [`MAX_WALK_ENTRIES`]: files past it were not looked at.
    pub cut_short: bool,
}

/// Marks every regular file under `workspace` whose status changed at or after `since`
/// (not following symlinks, not entering `.git` folders, which commands cannot write,
/// nor the folders `skip` says). Blocking: run it on a blocking thread.
pub fn mark_changed_since(
    workspace: &Path,
    since: SystemTime,
    origin: &str,
    skip: &dyn Fn(&Path) -> bool,
) -> MarkedFiles {
    let since = since
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut result = MarkedFiles::default();
    let mut folders = vec![workspace.to_path_buf()];
    let mut seen = 0usize;
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                result.cut_short = true;
                return result;
            }
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if entry.file_name() != ".git" && !skip(&path) {
                    folders.push(path);
                }
                continue;
            }
            let changed = u128::try_from(meta.ctime()).unwrap_or(0) * 1_000_000_000
                + u128::try_from(meta.ctime_nsec()).unwrap_or(0);
            if !meta.is_file() || changed < since {
                continue;
            }
            match mark_path(&path, origin) {
                Ok(()) => result.marked.push(path),
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot mark a file a command changed as untrusted")
                }
            }
        }
    }
    result
}

/// Marks `path` (not following a symlink) as holding untrusted content from `origin`.
fn mark_path(path: &Path, origin: &str) -> io::Result<()> {
    let name = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
    let value = cut(origin);
    // SAFETY: both are C strings and the value a live buffer of the given length.
    let done = unsafe {
        libc::lsetxattr(
            name.as_ptr(),
            MARK.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `origin` cut to [`MAX_ORIGIN_BYTES`] on a character boundary.
fn cut(origin: &str) -> &[u8] {
    let mut end = origin.len().min(MAX_ORIGIN_BYTES);
    while !origin.is_char_boundary(end) {
        end -= 1;
    }
    &origin.as_bytes()[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_kept_found_and_cleared_and_a_walk_marks_only_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.txt");
        std::fs::write(&old, "before").unwrap();
        // The next tick of the file clock: what changes from here on is "after".
        let written = status_changed(&old).unwrap();
        while command_start() <= written {
            std::thread::yield_now();
        }
        let start = command_start();
        std::fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
        std::fs::write(dir.path().join("sub/page.html"), "obey").unwrap();
        std::fs::write(dir.path().join("sub/.git/config"), "x").unwrap();
        let marked = mark_changed_since(dir.path(), start, "exec with network", &|_| false);
        assert_eq!(marked.marked, vec![dir.path().join("sub/page.html")]);
        let page = File::open(dir.path().join("sub/page.html")).unwrap();
        assert_eq!(file_mark(&page).as_deref(), Some("exec with network"));
        assert_eq!(file_mark(&File::open(&old).unwrap()), None);
        clear_file_mark(&page);
        assert_eq!(file_mark(&page), None);
        assert_eq!(cut(&"é".repeat(200)).len(), MAX_ORIGIN_BYTES);
    }
}
