//! What happens in the forked child before `exec`: a new session (so the whole tree
//! can be killed as one process group), resource limits, and no inherited descriptors.
//!
//! Everything here runs between `fork` and `exec`, so it only makes raw system calls
//! (no allocation, no locks).

use crate::policy::ResourceLimits;

/// Installs the pre-exec hook on `command`; `inherited` (a descriptor the command
/// reads, such as bwrap's seccomp filter) is the one descriptor left open across exec.
pub(crate) fn install(
    command: &mut tokio::process::Command,
    limits: &ResourceLimits,
    inherited: Option<std::os::fd::RawFd>,
) {
    let limits = limits.clone();
    // SAFETY: the closure only calls async-signal-safe system calls (setsid,
    // getrlimit, setrlimit, close_range, fcntl) and touches no shared state.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            apply_limits(&limits)?;
            mark_inherited_descriptors_cloexec();
            if let Some(fd) = inherited {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// setrlimit for each limit, soft and hard (so the command cannot raise it back),
/// clamped to the hard limit we already have (raising it needs privilege).
/// The CPU hard limit is one second above the soft one: SIGXCPU first, then SIGKILL.
fn apply_limits(limits: &ResourceLimits) -> std::io::Result<()> {
    let table = [
        (libc::RLIMIT_CPU, limits.cpu_seconds, 1),
        (libc::RLIMIT_AS, limits.memory_bytes, 0),
        (libc::RLIMIT_NPROC, limits.max_processes, 0),
        (libc::RLIMIT_FSIZE, limits.file_size_bytes, 0),
    ];
    for (resource, value, hard_margin) in table {
        let Some(value) = value else { continue };
        set_limit(resource, value, hard_margin)?;
    }
    Ok(())
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn set_limit(resource: Resource, value: u64, hard_margin: u64) -> std::io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(resource, &mut current) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let wanted_soft = value as libc::rlim_t;
    let wanted_hard = value.saturating_add(hard_margin) as libc::rlim_t;
    let hard = wanted_hard.min(current.rlim_max);
    let new = libc::rlimit {
        rlim_cur: wanted_soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: `new` is a valid rlimit.
    if unsafe { libc::setrlimit(resource, &new) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, so nothing Hearth holds open
/// (databases, sockets) leaks into the command. Best effort: `close_range` needs
/// Linux 5.11; on older kernels we rely on Rust opening everything with O_CLOEXEC.
fn mark_inherited_descriptors_cloexec() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with the CLOEXEC flag only changes descriptor flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
}
