//! Opening files and folders beneath the workspace root with no gap between checking a
//! path and using it: every open starts from a descriptor of the root and follows no
//! symlink, so a folder swapped for a symlink in the middle of a call is refused, never
//! followed out of the workspace.
//!
//! Folders are opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)` where the kernel has it (Linux 5.6+), else one component at a
//! time with `openat(O_NOFOLLOW)` from the root's descriptor. The last component is then
//! handled from its parent's descriptor: `fstatat` without following, so anything but a
//! regular file (a FIFO, a device, a socket) is refused before it is opened, then
//! `openat(O_NOFOLLOW | O_NONBLOCK)` and `fstat` to confirm that what was opened is a
//! regular file, so nothing can block on open or read. All of these calls block: run
//! them on a blocking thread.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// `RESOLVE_*` flags of `openat2` (linux/openat2.h).
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
/// Times an `openat2` interrupted by a concurrent rename (`EAGAIN`) is retried.
const OPENAT2_RETRIES: usize = 8;

/// Set once `openat2` answered `ENOSYS`, so later opens go straight to the walk.
static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);

/// Why something beneath the root could not be opened as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfinedError {
    #[error("a part of the path is a symlink (or was just replaced by one); the file tools never follow a symlink while opening, so use the path it points to")]
    Symlink,
    #[error("it is a directory")]
    Directory,
    #[error("it is {0}, not a regular file; the file tools only read and write regular files (opening anything else could block forever)")]
    NotRegular(&'static str),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// How the final file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    Read,
    ReadWrite,
    /// Write, creating the file if it does not exist.
    WriteOrCreate,
}

/// How folders beneath the root are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, falling back to `Walk`
    /// when the kernel does not have it (`ENOSYS`).
    Openat2,
    /// One component at a time with `openat(O_NOFOLLOW)`.
    Walk,
}

/// A regular file opened beneath the root, and whether this open created it.
#[derive(Debug)]
pub(crate) struct OpenedFile {
    pub file: File,
    pub created: bool,
}

/// The workspace root: its canonical path, and a descriptor of it that every open of
/// the call starts from.
pub(crate) struct WorkspaceRoot {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl WorkspaceRoot {
    /// Open `workspace` (canonicalized here, so the descriptor is of the real folder).
    pub(crate) fn open(workspace: &Path) -> io::Result<Self> {
        let path = std::fs::canonicalize(workspace)?;
        let path_c = c_path(path.as_os_str())?;
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `path_c` is a valid NUL-terminated string; the result is checked.
        let fd = owned(unsafe { libc::open(path_c.as_ptr(), flags) })?;
        Ok(Self { path, fd })
    }

    /// `resolved` (a canonical path inside the root) as names relative to the root; empty
    /// for the root itself. Only plain names: a canonical path has no `.`, `..` or symlink.
    pub(crate) fn names_of(&self, resolved: &Path) -> io::Result<Vec<OsString>> {
        let outside = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "'{}' is not a plain path inside '{}'",
                    resolved.display(),
                    self.path.display()
                ),
            )
        };
        let relative = resolved.strip_prefix(&self.path).map_err(|_| outside())?;
        relative
            .components()
            .map(|component| match component {
                Component::Normal(name) => Ok(name.to_os_string()),
                _ => Err(outside()),
            })
            .collect()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        dir_fd(&self.fd)
    }
}

/// The folder `names` beneath `root`, following no symlink. `readable` opens it for
/// listing; otherwise the descriptor only anchors further opens (`O_PATH`).
pub(crate) fn open_dir(
    root: BorrowedFd<'_>,
    names: &[OsString],
    readable: bool,
    lookup: Lookup,
) -> Result<OwnedFd, ConfinedError> {
    let access = if readable {
        libc::O_RDONLY
    } else {
        libc::O_PATH
    };
    let flags = access | libc::O_DIRECTORY | libc::O_CLOEXEC;
    if lookup == Lookup::Openat2 && !OPENAT2_MISSING.load(Ordering::Relaxed) {
        match openat2_beneath(root, names, flags) {
            Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
                OPENAT2_MISSING.store(true, Ordering::Relaxed);
                return open_dir(root, names, readable, Lookup::Walk);
            }
            result => return result.map_err(classify),
        }
    }
    let anchor = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let Some((last, parents)) = names.split_last() else {
        return Ok(reopen(root, flags)?);
    };
    let mut dir = reopen(root, anchor)?;
    for name in parents {
        dir = open_child_dir(dir_fd(&dir), name, anchor)?;
    }
    open_child_dir(dir_fd(&dir), last, flags)
}

/// The regular file `names` beneath `root` (see [`open_regular_file`]); with
/// `create_parents`, missing folders on the way are created first.
pub(crate) fn open_file(
    root: BorrowedFd<'_>,
    names: &[OsString],
    mode: OpenMode,
    create_parents: bool,
) -> Result<OpenedFile, ConfinedError> {
    let Some((last, parents)) = names.split_last() else {
        return Err(ConfinedError::Directory);
    };
    let parent = if create_parents {
        create_dirs(root, parents)?
    } else {
        open_dir(root, parents, false, Lookup::Openat2)?
    };
    open_regular_file(dir_fd(&parent), last, mode)
}

/// Like [`open_dir`] (not readable), creating the folders that do not exist yet with
/// `mkdirat`, each beneath the one before.
pub(crate) fn create_dirs(
    root: BorrowedFd<'_>,
    names: &[OsString],
) -> Result<OwnedFd, ConfinedError> {
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    let mut dir = reopen(root, flags)?;
    for name in names {
        let name_c = c_path(name)?;
        // SAFETY: `dir` is an open descriptor and `name_c` a valid C string.
        let made = unsafe { libc::mkdirat(dir.as_raw_fd(), name_c.as_ptr(), 0o777) };
        if made != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EEXIST) {
                return Err(err.into());
            }
        }
        dir = open_child_dir(dir_fd(&dir), name, flags)?;
    }
    Ok(dir)
}

/// The regular file `name` in `dir`, opened for `access` without following a symlink
/// and without blocking. Anything but a regular file is refused before it is opened.
pub(crate) fn open_regular_file(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    mode: OpenMode,
) -> Result<OpenedFile, ConfinedError> {
    let name_c = c_path(name)?;
    match stat_entry(dir, &name_c) {
        Ok(stat) => require_regular(&stat)?,
        Err(err) if err.raw_os_error() == Some(libc::ENOENT) && mode == OpenMode::WriteOrCreate => {
            let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
            match open_at(dir, &name_c, flags) {
                Ok(file) => {
                    return Ok(OpenedFile {
                        file,
                        created: true,
                    })
                }
                // Created by someone else in between: open it as an existing file.
                Err(ConfinedError::Io(err)) if err.raw_os_error() == Some(libc::EEXIST) => {}
                Err(err) => return Err(err),
            }
        }
        Err(err) => return Err(classify(err)),
    }
    let flags = match mode {
        OpenMode::Read => libc::O_RDONLY,
        OpenMode::ReadWrite => libc::O_RDWR,
        OpenMode::WriteOrCreate => libc::O_WRONLY,
    };
    let file = open_at(dir, &name_c, flags)?;
    Ok(OpenedFile {
        file,
        created: false,
    })
}

/// Entry names of a folder opened with [`open_dir`] (`readable`), each with whether it
/// is a folder (a symlink counts as what it points to, for display only).
pub(crate) fn list_entries(dir: OwnedFd) -> io::Result<Vec<(OsString, bool)>> {
    let raw = dir.into_raw_fd();
    // SAFETY: `raw` is an open directory descriptor whose ownership passes to the stream.
    let stream = unsafe { libc::fdopendir(raw) };
    if stream.is_null() {
        let err = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `raw` is still ours to close.
        unsafe { libc::close(raw) };
        return Err(err);
    }
    let result = read_stream(stream);
    // SAFETY: `stream` is a valid stream, closed exactly once (closing `raw` with it).
    unsafe { libc::closedir(stream) };
    result
}

fn read_stream(stream: *mut libc::DIR) -> io::Result<Vec<(OsString, bool)>> {
    let mut entries = Vec::new();
    loop {
        // SAFETY: resetting errno tells the end of the stream from an error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid open stream.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(0) | None => Ok(entries),
                Some(_) => Err(err),
            };
        }
        // SAFETY: readdir returned a valid entry whose name is NUL-terminated.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let mut stat = zeroed_stat();
        // SAFETY: `stream` is valid, `name` a C string, `stat` a writable buffer.
        let is_dir = unsafe {
            libc::fstatat(libc::dirfd(stream), name.as_ptr(), &mut stat, 0) == 0
                && stat.st_mode & libc::S_IFMT == libc::S_IFDIR
        };
        entries.push((OsStr::from_bytes(name.to_bytes()).to_os_string(), is_dir));
    }
}

fn openat2_beneath(root: BorrowedFd<'_>, names: &[OsString], flags: i32) -> io::Result<OwnedFd> {
    let mut joined = Vec::new();
    for name in names {
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(name.as_bytes());
    }
    if joined.is_empty() {
        joined.push(b'.');
    }
    let path = c_path(OsStr::from_bytes(&joined))?;
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    let mut attempts = 0;
    loop {
        // SAFETY: `path` is a valid C string and `how` a valid `open_how` of the size given.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        let result = owned(fd as i32);
        match &result {
            Err(err) if err.raw_os_error() == Some(libc::EAGAIN) && attempts < OPENAT2_RETRIES => {
                attempts += 1;
            }
            _ => return result,
        }
    }
}

/// `struct open_how` of `openat2`.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The folder `name` in `dir`, refusing a symlink.
fn open_child_dir(dir: BorrowedFd<'_>, name: &OsStr, flags: i32) -> Result<OwnedFd, ConfinedError> {
    let name_c = c_path(name)?;
    // SAFETY: `dir` is open and `name_c` a valid C string; the result is checked.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name_c.as_ptr(), flags | libc::O_NOFOLLOW) };
    match owned(fd) {
        Ok(fd) => Ok(fd),
        // With O_PATH a symlink is not an error by itself but "not a directory".
        Err(err) if err.raw_os_error() == Some(libc::ENOTDIR) => match stat_entry(dir, &name_c) {
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => Err(ConfinedError::Symlink),
            _ => Err(err.into()),
        },
        Err(err) => Err(classify(err)),
    }
}

/// `name` in `dir` opened with `flags`, never following a symlink or blocking, and
/// confirmed to be a regular file.
fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: i32) -> Result<File, ConfinedError> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: `dir` is open and `name` a valid C string; the result is checked.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o666 as libc::c_uint) };
    let fd = owned(fd).map_err(classify)?;
    let mut stat = zeroed_stat();
    // SAFETY: `fd` is open and `stat` a writable buffer.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    require_regular(&stat)?;
    Ok(File::from(fd))
}

fn stat_entry(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<libc::stat> {
    let mut stat = zeroed_stat();
    // SAFETY: `dir` is open, `name` a valid C string, `stat` a writable buffer.
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(stat)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn require_regular(stat: &libc::stat) -> Result<(), ConfinedError> {
    match stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => Ok(()),
        libc::S_IFDIR => Err(ConfinedError::Directory),
        libc::S_IFLNK => Err(ConfinedError::Symlink),
        libc::S_IFIFO => Err(ConfinedError::NotRegular("a FIFO (named pipe)")),
        libc::S_IFCHR => Err(ConfinedError::NotRegular("a character device")),
        libc::S_IFBLK => Err(ConfinedError::NotRegular("a block device")),
        libc::S_IFSOCK => Err(ConfinedError::NotRegular("a socket")),
        _ => Err(ConfinedError::NotRegular("an unknown kind of file")),
    }
}

/// `ELOOP` (a symlink where none may be) as [`ConfinedError::Symlink`].
fn classify(err: io::Error) -> ConfinedError {
    match err.raw_os_error() {
        Some(libc::ELOOP) => ConfinedError::Symlink,
        // openat2 refused to leave the root (only possible through a symlink or `..`).
        Some(libc::EXDEV) => ConfinedError::Symlink,
        _ => ConfinedError::Io(err),
    }
}

/// A new descriptor of the folder `dir` itself.
fn reopen(dir: BorrowedFd<'_>, flags: i32) -> io::Result<OwnedFd> {
    // SAFETY: `dir` is open and "." a valid C string; the result is checked.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c".".as_ptr(), flags) };
    owned(fd)
}

fn dir_fd(fd: &OwnedFd) -> BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(fd)
}

fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a non-negative result of open/openat is a new descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn c_path(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path contains a NUL byte; give a path without one",
        )
    })
}

fn zeroed_stat() -> libc::stat {
    // SAFETY: `stat` is plain old data; all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace with `real/inner/file.txt`, `link -> <outside>` and
    /// `real/inner/link.txt -> <outside>/secret.txt`.
    fn layout() -> (tempfile::TempDir, tempfile::TempDir, WorkspaceRoot) {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("real/inner")).unwrap();
        std::fs::write(ws.path().join("real/inner/file.txt"), "inside").unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.txt"),
            ws.path().join("real/inner/link.txt"),
        )
        .unwrap();
        let root = WorkspaceRoot::open(ws.path()).unwrap();
        (ws, outside, root)
    }

    fn names(path: &str) -> Vec<OsString> {
        path.split('/').map(OsString::from).collect()
    }

    #[test]
    fn both_lookups_open_real_folders_and_refuse_every_symlink() {
        let (_ws, _outside, root) = layout();
        for lookup in [Lookup::Openat2, Lookup::Walk] {
            for readable in [false, true] {
                open_dir(root.as_fd(), &names("real/inner"), readable, lookup).unwrap();
                open_dir(root.as_fd(), &[], readable, lookup).unwrap();
                for through_link in ["link", "real/inner/link.txt"] {
                    let err = open_dir(root.as_fd(), &names(through_link), readable, lookup);
                    assert!(
                        matches!(err, Err(ConfinedError::Symlink)),
                        "{lookup:?} {through_link}: {err:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn files_behind_a_symlink_are_refused_and_nothing_is_created_through_one() {
        let (ws, outside, root) = layout();
        for mode in [OpenMode::Read, OpenMode::ReadWrite, OpenMode::WriteOrCreate] {
            let err = open_file(root.as_fd(), &names("link/secret.txt"), mode, false);
            assert!(matches!(err, Err(ConfinedError::Symlink)), "{mode:?}");
            let err = open_file(root.as_fd(), &names("real/inner/link.txt"), mode, false);
            assert!(matches!(err, Err(ConfinedError::Symlink)), "{mode:?}");
        }
        let err = open_file(
            root.as_fd(),
            &names("link/sub/new.txt"),
            OpenMode::WriteOrCreate,
            true,
        );
        assert!(matches!(err, Err(ConfinedError::Symlink)), "{err:?}");
        assert!(!outside.path().join("sub").exists());
        let opened = open_file(
            root.as_fd(),
            &names("made/here/new.txt"),
            OpenMode::WriteOrCreate,
            true,
        )
        .unwrap();
        assert!(opened.created);
        assert!(ws.path().join("made/here/new.txt").is_file());
    }

    #[test]
    fn a_fifo_is_refused_in_every_mode_without_blocking() {
        let (ws, _outside, root) = layout();
        let fifo = c_path(ws.path().join("pipe").as_os_str()).unwrap();
        // SAFETY: `fifo` is a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        for mode in [OpenMode::Read, OpenMode::ReadWrite, OpenMode::WriteOrCreate] {
            let err = open_file(root.as_fd(), &names("pipe"), mode, false);
            assert!(
                matches!(err, Err(ConfinedError::NotRegular(kind)) if kind.contains("FIFO")),
                "{mode:?}"
            );
        }
    }
}
