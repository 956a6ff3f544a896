//! The seccomp filter of every sandboxed command, under either mechanism: system calls
//! a sandboxed command has no business making, answered with EPERM (the command sees an
//! ordinary failure). The Landlock helper installs it on itself; bubblewrap gets it
//! compiled, through a memory file (`--seccomp FD`), and installs it just before it
//! execs the command.

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule};

/// Refused always: tracing and reading other processes, new namespaces and mounts
/// (which could undo the read-only binds), kernel keyrings, BPF, perf, io_uring
/// (whose operations bypass seccomp), userfaultfd, module and kernel loading.
const ALWAYS_REFUSED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_keyctl,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_userfaultfd,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
];

/// Installs the filter on this process (inherited by what it execs).
pub(crate) fn apply(network: bool) -> Result<(), String> {
    let program = filter(network)?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))
}

/// The compiled filter in a sealed-off memory file, positioned at its start, for
/// bubblewrap's `--seccomp FD` (the descriptor is close-on-exec; the caller keeps it
/// open in the child it spawns).
pub(crate) fn program_file(network: bool) -> Result<OwnedFd, String> {
    let program = filter(network)?;
    let bytes: Vec<u8> = program
        .iter()
        .flat_map(|instruction| {
            let mut raw = Vec::with_capacity(8);
            raw.extend_from_slice(&instruction.code.to_ne_bytes());
            raw.push(instruction.jt);
            raw.push(instruction.jf);
            raw.extend_from_slice(&instruction.k.to_ne_bytes());
            raw
        })
        .collect();
    // SAFETY: a NUL-terminated name and valid flags.
    let fd = unsafe { libc::memfd_create(c"hearth-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "seccomp: memfd_create: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: memfd_create returned a fresh descriptor that nothing else owns.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(&bytes)
        .and_then(|()| file.rewind())
        .map_err(|e| format!("seccomp: writing the filter: {e}"))?;
    Ok(OwnedFd::from(file))
}

fn filter(network: bool) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<libc::c_long, Vec<SeccompRule>> = ALWAYS_REFUSED
        .iter()
        .map(|call| (*call, Vec::new()))
        .collect();
    if !network {
        // Every socket() when the network is off: TCP/UDP are also off in the network
        // namespace and in Landlock, and a Unix socket could reach a daemon (docker,
        // D-Bus) outside the sandbox. socketpair() stays allowed: it reaches nothing.
        rules.insert(libc::SYS_socket, Vec::new());
    }
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("seccomp: {e}"))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e: seccompiler::BackendError| format!("seccomp: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("seccomp: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_filters_compile() {
        assert!(super::filter(false).is_ok());
        assert!(super::filter(true).is_ok());
    }
}
