//! The Landlock fallback, child side: a fresh process that restricts itself and then
//! runs the command. It runs single-threaded before `exec`, so, unlike a `pre_exec`
//! hook, it may allocate, open files and report errors in words.
//!
//! In order:
//! 1. `no_new_privs`, so no set-uid program can undo what follows; and death with
//!    the parent (as bwrap's `--die-with-parent`).
//! 2. Namespaces, best effort: mount, PID, IPC, UTS and (network off) network; a user
//!    namespace first when not root. Where the kernel refuses them, Landlock and
//!    seccomp still hold, and the probe says namespaces are missing.
//! 3. With a PID namespace, the helper forks: the child is the namespace's PID 1 (see
//!    `pid_init`), and when it ends the kernel kills every process the command
//!    started, detached (`setsid`) ones included. The helper waits and passes on the
//!    command's status. A fresh `/proc` shows only the sandbox's own processes.
//! 4. With a mount namespace: every `.git` and `/proc/sys` bound read-only over
//!    themselves, hidden paths inside the workspace covered (an empty read-only tmpfs,
//!    or `/dev/null` for a file) with readable paths inside them bound back, and a
//!    private tmpfs on `/tmp`, with the plan's paths under `/tmp` bound back in (else
//!    the parent's private `TMPDIR` serves). Hidden paths that cannot be covered
//!    (no mount namespace) mean refusing to run.
//! 5. Every capability dropped from the bounding set, so root keeps none after `exec`.
//! 6. Landlock: the plan's read and write roots, TCP bind/connect refused when the
//!    network is off, and signals and abstract Unix sockets scoped to the sandbox.
//!    Not enforced at all means refusing to run.
//! 7. seccomp (`seccomp`): no ptrace, no new namespaces or mounts, no kernel keyring,
//!    BPF or io_uring, and no sockets but `socketpair` when the network is off.
//! 8. `exec` of the command (by PID 1's child when there is a PID namespace), with the
//!    environment the parent prepared.

use std::ffi::{CString, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use serde::{Deserialize, Serialize};

use crate::landlock::HelperPlan;
use crate::pid_init::Forked;

/// The Landlock ABI the rules are written for (Linux 6.12: scopes); older kernels
/// enforce what they know.
const TARGET_ABI: ABI = ABI::V6;

/// Exit status when the sandbox could not be set up (the command never ran).
pub const SETUP_FAILED: u8 = 125;

/// What the helper managed to enforce (printed by `--probe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperReport {
    /// The kernel's Landlock ABI version.
    pub landlock_abi: i32,
    /// Every requested Landlock right enforced (else only some, on an older kernel).
    pub landlock_full: bool,
    /// Mount, IPC, UTS and network namespaces entered (so `.git` is read-only).
    pub namespaces: bool,
    /// A PID namespace entered: no process the command starts outlives it, and other
    /// processes are not even listed.
    #[serde(default)]
    pub pid_namespace: bool,
    pub seccomp: bool,
}

/// The helper's entry point: `--probe` or `--plan JSON -- COMMAND ARGS…` (the
/// arguments after the program and any leading ones the caller consumed).
pub fn helper_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let result = match args.first().map(|a| a.as_bytes()) {
        Some(b"--probe") => sandboxed(&probe_plan(), |report| {
            match serde_json::to_string(report) {
                Ok(json) => {
                    println!("{json}");
                    0
                }
                Err(e) => {
                    eprintln!("hearth sandbox (landlock): {e}");
                    SETUP_FAILED
                }
            }
        }),
        Some(b"--plan") => run_plan(&args[1..]),
        _ => Err("usage: --probe | --plan JSON -- COMMAND [ARGS…]".to_string()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("hearth sandbox (landlock): {message}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

fn run_plan(args: &[OsString]) -> Result<u8, String> {
    let [json, separator, command @ ..] = args else {
        return Err("expected --plan JSON -- COMMAND".into());
    };
    if separator.as_bytes() != b"--" || command.is_empty() {
        return Err("expected --plan JSON -- COMMAND".into());
    }
    let plan: HelperPlan = serde_json::from_slice(json.as_bytes())
        .map_err(|e| format!("the plan is not valid JSON: {e}"))?;
    sandboxed(&plan, |_| exec_command(command))
}

/// Execs `command`; returns only when that failed, with the status a shell would give.
fn exec_command(command: &[OsString]) -> u8 {
    let error = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    eprintln!("{}: {error}", Path::new(&command[0]).display());
    // As a shell says it: 127 not found, 126 found but not runnable.
    if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// Steps 1–7, then `then` in the restricted process (PID 1's child when there is a
/// PID namespace); the exit status to end with.
fn sandboxed(plan: &HelperPlan, then: impl FnOnce(&HelperReport) -> u8) -> Result<u8, String> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: as above. Like bwrap's --die-with-parent: Hearth gone, sandbox gone.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let namespaces = enter_namespaces(plan.network);
    if namespaces.pid {
        return match crate::pid_init::fork_init()? {
            Forked::Helper(code) => Ok(code),
            Forked::Init(init) => {
                // Only this namespace's processes in /proc; best effort (a container
                // that masks parts of /proc refuses a fresh one).
                let _ = mount_proc();
                let report = restrict(plan, namespaces)?;
                Ok(init.run_command(|| then(&report)))
            }
        };
    }
    let report = restrict(plan, namespaces)?;
    Ok(then(&report))
}

/// A plan like a real one (workspace-write in a temp dir, network off), to find out
/// what this machine enforces.
fn probe_plan() -> HelperPlan {
    let dir = std::env::temp_dir();
    HelperPlan {
        read_roots: vec!["/usr".into()],
        write_roots: Vec::new(),
        device_files: vec!["/dev/null".into()],
        read_only_mounts: vec!["/proc/sys".into()],
        masked: Vec::new(),
        kept_in_masked: Vec::new(),
        protected: Vec::new(),
        private_tmp: dir.clone(),
        network: false,
        cwd: dir,
    }
}

/// Steps 4–7 (mounts, capabilities, Landlock, seccomp); the caller execs.
fn restrict(plan: &HelperPlan, entered: Namespaces) -> Result<HelperReport, String> {
    let namespaces = entered.mount;
    if !namespaces {
        if let Some(protected) = plan.protected.first() {
            return Err(format!(
                "{} must stay read-only for this command, and without a mount namespace \
                 (refused by this kernel) the sandbox cannot make it so",
                protected.display()
            ));
        }
        if let Some(masked) = plan.masked.first() {
            return Err(format!(
                "{} lies inside the workspace, and without a mount namespace (refused by \
                 this kernel) the sandbox cannot hide it; choose a workspace that does not \
                 contain it (-C DIR)",
                masked.path.display()
            ));
        }
    }
    let mut plan = plan.clone();
    if namespaces {
        for path in &plan.read_only_mounts {
            bind_read_only(path)?;
        }
    }
    // A private /tmp, as under bubblewrap, instead of the TMPDIR the parent made. What
    // the command may use under the host's /tmp (a workspace there, say) is bound back
    // in at the same path; only a plan that uses /tmp itself keeps the parent's TMPDIR.
    let tmp = Path::new("/tmp");
    let used: Vec<PathBuf> = plan
        .read_roots
        .iter()
        .chain(&plan.write_roots)
        .chain([&plan.cwd])
        .filter(|path| path.starts_with(tmp))
        .cloned()
        .collect();
    if namespaces && !used.iter().any(|path| path == tmp) {
        private_tmp_keeping(&used, &plan.write_roots)?;
        plan.write_roots.push(tmp.into());
        // SAFETY (of the environment change): this process is single-threaded.
        std::env::set_var("TMPDIR", tmp);
    } else {
        plan.write_roots.push(plan.private_tmp.clone());
    }
    if namespaces {
        mask_hidden(&plan)?;
    }
    drop_capabilities();
    std::env::set_current_dir(&plan.cwd)
        .map_err(|e| format!("cannot enter {}: {e}", plan.cwd.display()))?;
    let landlock_full = apply_landlock(&plan)?;
    crate::seccomp::apply(plan.network)?;
    Ok(HelperReport {
        landlock_abi: landlock_abi(),
        landlock_full,
        namespaces,
        pid_namespace: entered.pid,
        seccomp: true,
    })
}

/// Which namespaces the helper entered.
#[derive(Debug, Clone, Copy, Default)]
struct Namespaces {
    /// Mount, IPC, UTS and (network off) network.
    mount: bool,
    pid: bool,
}

/// Enters the namespaces, with a PID namespace where the kernel allows one.
fn enter_namespaces(network: bool) -> Namespaces {
    if unshare_namespaces(network, true).is_ok() {
        return Namespaces {
            mount: true,
            pid: true,
        };
    }
    Namespaces {
        mount: unshare_namespaces(network, false).is_ok(),
        pid: false,
    }
}

fn unshare_namespaces(network: bool, pid: bool) -> Result<(), std::io::Error> {
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if !network {
        flags |= libc::CLONE_NEWNET;
    }
    if pid {
        flags |= libc::CLONE_NEWPID;
    }
    // SAFETY: geteuid/getuid/getgid have no preconditions.
    let (euid, uid, gid) = unsafe { (libc::geteuid(), libc::getuid(), libc::getgid()) };
    if euid != 0 {
        flags |= libc::CLONE_NEWUSER;
    }
    // SAFETY: unshare with valid flags; this process is single-threaded.
    if unsafe { libc::unshare(flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if euid != 0 {
        // Map our own ids into the new user namespace (and nothing else).
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    // Our mounts stay ours: nothing propagates back to the host.
    mount(None, Path::new("/"), libc::MS_REC | libc::MS_PRIVATE)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// A fresh `/proc` for this PID namespace (called as its PID 1).
fn mount_proc() -> Result<(), String> {
    // SAFETY: NUL-terminated literals and no data.
    let result = unsafe {
        libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        )
    };
    if result != 0 {
        return Err(format!(
            "mounting /proc: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Covers each hidden path inside the workspace as bubblewrap does: a directory with
/// an empty tmpfs (read-only once the readable paths inside it are bound back), a
/// file with `/dev/null`.
fn mask_hidden(plan: &HelperPlan) -> Result<(), String> {
    let mut kept = Vec::new();
    for path in &plan.kept_in_masked {
        if let Ok(handle) = open_path(path) {
            let is_dir = handle.metadata().map(|m| m.is_dir()).unwrap_or(false);
            kept.push((path, handle, is_dir));
        }
    }
    let mut masked: Vec<_> = plan.masked.iter().collect();
    masked.sort_by_key(|m| m.path.components().count());
    for hidden in &masked {
        if hidden.is_dir {
            mount_tmpfs(&hidden.path, c"mode=0755")?;
        } else {
            mount(Some(Path::new("/dev/null")), &hidden.path, libc::MS_BIND)?;
            remount_read_only(&hidden.path)?;
        }
    }
    for (path, handle, is_dir) in kept {
        bind_back(path, &handle, is_dir, false)?;
    }
    for hidden in masked.iter().filter(|m| m.is_dir) {
        remount_read_only(&hidden.path)?;
    }
    Ok(())
}

fn bind_read_only(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Ok(());
    }
    mount(Some(path), path, libc::MS_BIND | libc::MS_REC)?;
    remount_read_only(path)
}

/// Makes the bind mount at `path` read-only (and nosuid, nodev). Flags the mount
/// already has are kept: inside a user namespace, a remount that would clear an
/// inherited `noexec` or `noatime` is refused.
fn remount_read_only(path: &Path) -> Result<(), String> {
    let mut flags =
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    let c_path = c_path(path)?;
    // SAFETY: a NUL-terminated path and a zeroed statvfs for the kernel to fill.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } == 0 {
        for (st, ms) in [
            (libc::ST_NOEXEC, libc::MS_NOEXEC),
            (libc::ST_NOATIME, libc::MS_NOATIME),
            (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
            (libc::ST_RELATIME, libc::MS_RELATIME),
        ] {
            if stat.f_flag & st != 0 {
                flags |= ms;
            }
        }
    }
    mount(None, path, flags)
}

/// Mounts a fresh tmpfs on `/tmp`, then binds each of `keep` (host paths under `/tmp`)
/// back at its own path, with whatever is mounted beneath it (a read-only `.git`).
/// Each is opened before the tmpfs hides it and bound from its descriptor. The whole
/// tmpfs is writable to Landlock, so a kept path outside every write root is made a
/// read-only mount: that, not Landlock, keeps it read-only.
fn private_tmp_keeping(keep: &[PathBuf], write_roots: &[PathBuf]) -> Result<(), String> {
    let mut keep: Vec<&PathBuf> = keep.iter().collect();
    // Parents first, so a writable workspace inside a read-only path is bound on top.
    keep.sort();
    keep.dedup();
    let mut handles = Vec::new();
    for path in keep {
        let Ok(handle) = open_path(path) else {
            continue; // Not there: nothing to keep.
        };
        let is_dir = handle.metadata().map(|m| m.is_dir()).unwrap_or(false);
        handles.push((path, handle, is_dir));
    }
    mount_tmpfs(Path::new("/tmp"), c"mode=1777")?;
    for (path, handle, is_dir) in handles {
        let writable = write_roots.iter().any(|root| path.starts_with(root));
        bind_back(path, &handle, is_dir, writable)?;
    }
    Ok(())
}

/// A descriptor that names `path` (no access to its contents), to bind it from later.
fn open_path(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
}

/// Binds what `handle` names (opened before a mount hid it) back at `path`, with
/// whatever is mounted beneath it, read-only unless `writable`.
fn bind_back(
    path: &Path,
    handle: &std::fs::File,
    is_dir: bool,
    writable: bool,
) -> Result<(), String> {
    let made = if is_dir {
        std::fs::create_dir_all(path)
    } else if path.exists() {
        Ok(())
    } else {
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(path).map(drop))
    };
    made.map_err(|e| format!("binding {} back: {e}", path.display()))?;
    let source = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
    mount(Some(&source), path, libc::MS_BIND | libc::MS_REC)?;
    if writable {
        Ok(())
    } else {
        remount_read_only(path)
    }
}

/// A fresh tmpfs at `target` (nosuid, nodev) with `options` (its mode).
fn mount_tmpfs(target: &Path, options: &std::ffi::CStr) -> Result<(), String> {
    let target_c = c_path(target)?;
    // SAFETY: NUL-terminated strings; tmpfs takes the mode as its data string.
    let result = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target_c.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            options.as_ptr().cast(),
        )
    };
    if result != 0 {
        return Err(format!(
            "mounting a tmpfs on {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())
}

fn mount(source: Option<&Path>, target: &Path, flags: libc::c_ulong) -> Result<(), String> {
    let target_c = c_path(target)?;
    let source_c = source.map(c_path).transpose()?;
    // SAFETY: valid NUL-terminated strings (or null) for source and target; no fstype
    // or data is needed for bind and propagation changes.
    let result = unsafe {
        libc::mount(
            source_c.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            target_c.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    if result != 0 {
        return Err(format!(
            "mounting {}: {}",
            target.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Empties the capability bounding set; `exec` then gives even root no capability.
/// Without CAP_SETPCAP there is nothing to drop, and errors are ignored.
fn drop_capabilities() {
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
        }
    }
}

/// Applies the plan's Landlock rules; true when every right was enforced.
fn apply_landlock(plan: &HelperPlan) -> Result<bool, String> {
    let abi = TARGET_ABI;
    let fail = |e: landlock::RulesetError| format!("Landlock: {e}");
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(fail)?;
    if !plan.network {
        // Handled with no rule allowing anything: every TCP bind and connect fails.
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(fail)?;
    }
    let status = ruleset
        .scope(Scope::from_all(abi))
        .map_err(fail)?
        .create()
        .map_err(fail)?
        .add_rules(path_beneath_rules(
            &plan.read_roots,
            AccessFs::from_read(abi),
        ))
        .map_err(fail)?
        .add_rules(path_beneath_rules(
            &plan.write_roots,
            AccessFs::from_all(abi),
        ))
        .map_err(fail)?
        .add_rules(path_beneath_rules(
            &plan.device_files,
            AccessFs::from_file(abi),
        ))
        .map_err(fail)?
        .restrict_self()
        .map_err(fail)?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(true),
        RulesetStatus::PartiallyEnforced => Ok(false),
        RulesetStatus::NotEnforced => Err(
            "this kernel does not enforce Landlock (Linux 5.13 or later with Landlock enabled \
             is needed), so nothing would be sandboxed"
                .into(),
        ),
    }
}

/// The kernel's Landlock ABI version (0 when unsupported).
pub fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the documented way to ask for the version: null attributes, size 0.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    i32::try_from(version.max(0)).unwrap_or(0)
}
