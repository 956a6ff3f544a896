//! The Landlock helper's PID namespace: after `unshare(CLONE_NEWPID)` the helper forks
//! once; the child is the namespace's PID 1 and forks the command. When PID 1 ends
//! the kernel kills everything left in the namespace, so no process the command
//! started (a `setsid` daemon, a fork bomb's leftovers) outlives it; and when the
//! helper dies (killed with its process group, or with Hearth), PID 1 dies with it.
//!
//! The helper, outside the namespace, waits for PID 1 and passes on the command's
//! status, which PID 1 sends it through a pipe: the command's own exit code, or its
//! death by a signal re-raised on the helper, so the caller sees what it would see
//! without the helper in between.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Which side of the fork this process is on.
pub(crate) enum Forked {
    /// The helper outside the namespace: PID 1 has ended; this is the command's status.
    Helper(u8),
    /// PID 1 of the new namespace.
    Init(Init),
}

/// PID 1's end of the status pipe.
pub(crate) struct Init {
    status_pipe: OwnedFd,
}

fn last_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// Forks after `unshare(CLONE_NEWPID)`; see [`Forked`].
pub(crate) fn fork_init() -> Result<Forked, String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-element array for the kernel to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_error("pipe"));
    }
    // SAFETY: pipe2 returned two fresh descriptors that nothing else owns.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: this process is single-threaded, so the child may go on running Rust.
    match unsafe { libc::fork() } {
        -1 => Err(last_error("fork")),
        0 => {
            drop(read_end);
            // SAFETY: prctl with integer arguments only. (getppid cannot tell whether
            // the helper died before this line: outside the namespace it reads 0.
            // The window is a few instructions; the process-group kill covers it.)
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
            Ok(Forked::Init(Init {
                status_pipe: write_end,
            }))
        }
        init => {
            drop(write_end);
            Ok(Forked::Helper(wait_and_pass_on(init, &read_end)))
        }
    }
}

impl Init {
    /// Forks the command (`run` execs it and returns only with the status to exit
    /// with when it could not), reaps every process re-parented to PID 1 while the
    /// command runs, and returns the exit status for PID 1 once the command ended.
    pub(crate) fn run_command(self, run: impl FnOnce() -> u8) -> u8 {
        // SAFETY: PID 1 is single-threaded here.
        let command = unsafe { libc::fork() };
        if command == -1 {
            eprintln!("hearth sandbox (landlock): {}", last_error("fork"));
            return crate::helper::SETUP_FAILED;
        }
        if command == 0 {
            drop(self.status_pipe);
            let code = run();
            // SAFETY: leaving the forked child without running PID 1's destructors.
            unsafe { libc::_exit(i32::from(code)) };
        }
        loop {
            let mut status = 0;
            // SAFETY: `status` is a valid int for the kernel to fill.
            let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
            if reaped == command {
                let bytes = status.to_ne_bytes();
                // SAFETY: writing four bytes from a live buffer to our own pipe.
                unsafe {
                    libc::write(self.status_pipe.as_raw_fd(), bytes.as_ptr().cast(), 4);
                }
                return exit_code_of(status);
            }
            if reaped == -1 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return crate::helper::SETUP_FAILED;
            }
        }
    }
}

/// The command's exit code, or 128 + N for death by signal N.
fn exit_code_of(status: i32) -> u8 {
    if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)).clamp(0, 255) as u8
    } else {
        libc::WEXITSTATUS(status).clamp(0, 255) as u8
    }
}

/// Waits for PID 1 and returns the command's exit code; a command killed by a signal
/// has that signal re-raised here first (core dumps off), so the caller sees it.
fn wait_and_pass_on(init: libc::pid_t, status_pipe: &OwnedFd) -> u8 {
    let mut init_status = 0;
    loop {
        // SAFETY: `init_status` is a valid int for the kernel to fill.
        let reaped = unsafe { libc::waitpid(init, &mut init_status, 0) };
        if reaped == init {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return crate::helper::SETUP_FAILED;
        }
    }
    let mut bytes = [0u8; 4];
    // SAFETY: reading at most four bytes into a live buffer from our own pipe.
    let read = unsafe { libc::read(status_pipe.as_raw_fd(), bytes.as_mut_ptr().cast(), 4) };
    // Without word from PID 1 (killed before the command ended), its own status.
    let status = if read == 4 {
        i32::from_ne_bytes(bytes)
    } else {
        init_status
    };
    if libc::WIFSIGNALED(status) {
        reraise(libc::WTERMSIG(status));
    }
    exit_code_of(status)
}

/// Dies by `signal` as the command did (returns only if the signal does not kill).
fn reraise(signal: i32) {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on this process with valid arguments.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
    }
}
