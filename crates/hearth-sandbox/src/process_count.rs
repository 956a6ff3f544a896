//! The process-count limit that holds for root too.
//!
//! RLIMIT_NPROC is set as well, but the kernel never enforces it for real uid 0 (and
//! for other users it counts every process of the uid, not of this command). So while
//! a command runs, a watchdog counts its process tree in `/proc` and reports when it
//! grows past the limit; [`crate::run`] then kills the whole tree. The count is the
//! leader's descendants plus anything still in its session (orphans in `full-access`
//! are re-parented to init but keep their session; in the bubblewrap modes orphans are
//! re-parented to the sandbox's own PID 1 and stay descendants).
//!
//! This is detection by polling, not prevention: a fork bomb can overshoot the limit
//! during one polling interval before the tree is killed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often the tree is counted while a command runs.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Resolves once the tree under `leader` holds more than `max` processes
/// (not counting `overhead` processes of the sandbox itself). Never resolves for `None`.
pub(crate) async fn exceeded(leader: Option<u32>, max: Option<u64>, overhead: usize) {
    let (Some(leader), Some(max)) = (leader, max) else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(POLL_INTERVAL).await;
        let counted = tokio::task::spawn_blocking(move || count_tree(leader)).await;
        if let Ok(count) = counted {
            if count.saturating_sub(overhead) as u64 > max {
                return;
            }
        }
    }
}

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    pid: u32,
    ppid: u32,
    session: u32,
}

/// The number of processes in the tree under `leader` (itself included) plus those
/// in its session.
fn count_tree(leader: u32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let stats: Vec<ProcStat> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &text)
        })
        .collect();
    count_in_tree(leader, &stats)
}

fn count_in_tree(leader: u32, stats: &[ProcStat]) -> usize {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for stat in stats {
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut pending: Vec<u32> = stats
        .iter()
        .filter(|stat| stat.pid == leader || stat.session == leader)
        .map(|stat| stat.pid)
        .collect();
    let mut in_tree: HashSet<u32> = pending.iter().copied().collect();
    while let Some(pid) = pending.pop() {
        for &kid in children.get(&pid).into_iter().flatten() {
            if in_tree.insert(kid) {
                pending.push(kid);
            }
        }
    }
    in_tree.len()
}

/// `pid (comm) state ppid pgrp session ...`; comm may contain spaces and parentheses,
/// so the fields are read after the last `)`.
fn parse_stat(pid: u32, text: &str) -> Option<ProcStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let _pgrp = fields.next()?;
    let session = fields.next()?.parse().ok()?;
    Some(ProcStat { pid, ppid, session })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, ppid: u32, session: u32) -> ProcStat {
        ProcStat { pid, ppid, session }
    }

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let text = "42 (a) b (c)) S 7 42 40 0 -1 4194560";
        assert_eq!(parse_stat(42, text), Some(stat(42, 7, 40)));
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn counts_descendants_and_session_members_once() {
        let stats = [
            stat(1, 0, 1),
            stat(10, 1, 10),  // leader
            stat(11, 10, 11), // child in its own session
            stat(12, 11, 11), // grandchild
            stat(13, 1, 10),  // orphan re-parented to init, same session
            stat(20, 1, 20),  // unrelated
        ];
        assert_eq!(count_in_tree(10, &stats), 4);
    }

    #[test]
    fn counts_this_process_tree() {
        assert!(count_tree(std::process::id()) >= 1);
    }
}
