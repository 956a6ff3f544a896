//! The Landlock fallback, child side: a fresh process that restricts itself and then
//! execs the command. It runs single-threaded before `exec`, so, unlike a `pre_exec`
//! hook, it may allocate, open files and report errors in words.
//!
//! In order:
//! 1. `no_new_privs`, so no set-uid program can undo what follows.
//! 2. Namespaces, best effort: mount, IPC, UTS and (network off) network; a user
//!    namespace first when not root. Where the kernel refuses them, Landlock and
//!    seccomp still hold, and the probe says namespaces are missing.
//! 3. With a mount namespace: `.git` and `/proc/sys` bound read-only over themselves,
//!    and a private tmpfs on `/tmp`, with the plan's paths under `/tmp` bound back in
//!    (else the parent's private `TMPDIR` serves).
//! 4. Every capability dropped from the bounding set, so root keeps none after `exec`.
//! 5. Landlock: the plan's read and write roots, TCP bind/connect refused when the
//!    network is off, and signals and abstract Unix sockets scoped to the sandbox.
//!    Not enforced at all means refusing to run.
//! 6. seccomp (`seccomp`): no ptrace, no new namespaces or mounts, no kernel keyring,
//!    BPF or io_uring, and no sockets but `socketpair` when the network is off.
//! 7. `exec` of the command, with the environment the parent prepared.

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
    pub seccomp: bool,
}

/// The helper's entry point: `--probe` or `--plan JSON -- COMMAND ARGS…` (the
/// arguments after the program and any leading ones the caller consumed).
pub fn helper_main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let result = match args.first().map(|a| a.as_bytes()) {
        Some(b"--probe") => probe_plan().and_then(|plan| {
            let report = restrict(&plan)?;
            println!(
                "{}",
                serde_json::to_string(&report).map_err(|e| e.to_string())?
            );
            Ok(ExitCode::SUCCESS)
        }),
        Some(b"--plan") => run_plan(&args[1..]),
        _ => Err("usage: --probe | --plan JSON -- COMMAND [ARGS…]".to_string()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hearth sandbox (landlock): {message}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

fn run_plan(args: &[OsString]) -> Result<ExitCode, String> {
    let [json, separator, command @ ..] = args else {
        return Err("expected --plan JSON -- COMMAND".into());
    };
    if separator.as_bytes() != b"--" || command.is_empty() {
        return Err("expected --plan JSON -- COMMAND".into());
    }
    let plan: HelperPlan = serde_json::from_slice(json.as_bytes())
        .map_err(|e| format!("the plan is not valid JSON: {e}"))?;
    restrict(&plan)?;
    let error = std::process::Command::new(&command[0])
        .args(&command[1..])
        .exec();
    eprintln!("{}: {error}", Path::new(&command[0]).display());
    // As a shell says it: 127 not found, 126 found but not runnable.
    Ok(ExitCode::from(
        if error.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        },
    ))
}

/// A plan like a real one (workspace-write in a temp dir, network off), to find out
/// what this machine enforces.
fn probe_plan() -> Result<HelperPlan, String> {
    let dir = std::env::temp_dir();
    Ok(HelperPlan {
        read_roots: vec!["/usr".into()],
        write_roots: Vec::new(),
        device_files: vec!["/dev/null".into()],
        read_only_mounts: vec!["/proc/sys".into()],
        private_tmp: dir.clone(),
        network: false,
        cwd: dir,
    })
}

/// Steps 1–6; the caller execs.
fn restrict(plan: &HelperPlan) -> Result<HelperReport, String> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
    }
    let namespaces = enter_namespaces(plan.network).is_ok();
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
    drop_capabilities();
    std::env::set_current_dir(&plan.cwd)
        .map_err(|e| format!("cannot enter {}: {e}", plan.cwd.display()))?;
    let landlock_full = apply_landlock(&plan)?;
    crate::seccomp::apply(plan.network)?;
    Ok(HelperReport {
        landlock_abi: landlock_abi(),
        landlock_full,
        namespaces,
        seccomp: true,
    })
}

fn enter_namespaces(network: bool) -> Result<(), std::io::Error> {
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS;
    if !network {
        flags |= libc::CLONE_NEWNET;
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
        let Ok(handle) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
        else {
            continue; // Not there: nothing to keep.
        };
        let is_dir = handle.metadata().map(|m| m.is_dir()).unwrap_or(false);
        handles.push((path, handle, is_dir));
    }
    mount_private_tmp()?;
    for (path, handle, is_dir) in handles {
        let made = if is_dir {
            std::fs::create_dir_all(path)
        } else if path.exists() {
            Ok(())
        } else {
            path.parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::File::create(path).map(drop))
        };
        made.map_err(|e| format!("keeping {} in the private /tmp: {e}", path.display()))?;
        let source = PathBuf::from(format!("/proc/self/fd/{}", handle.as_raw_fd()));
        mount(Some(&source), path, libc::MS_BIND | libc::MS_REC)?;
        if !write_roots.iter().any(|root| path.starts_with(root)) {
            remount_read_only(path)?;
        }
    }
    Ok(())
}

fn mount_private_tmp() -> Result<(), String> {
    let target = c"/tmp";
    // SAFETY: NUL-terminated literals; tmpfs takes the mode as its data string.
    let result = unsafe {
        libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"mode=1777".as_ptr().cast(),
        )
    };
    if result != 0 {
        return Err(format!(
            "mounting a private /tmp: {}",
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
