//! Tests of what happens to the process tree: resource limits, timeouts that kill
//! grandchildren, cancellation, bounded output, exit codes and signals. The limits
//! apply in every mode, so each test runs under `workspace-write` and `full-access`.

use std::time::Duration;

use crate::common::*;
use hearth_sandbox::run;
use hearth_sandbox::SandboxMode::{self, FullAccess, WorkspaceWrite};
use tokio_util::sync::CancellationToken;

const MODES: [SandboxMode; 2] = [WorkspaceWrite, FullAccess];

#[tokio::test]
async fn file_size_limit_stops_large_writes_in_every_mode() {
    let mut fixture = Fixture::new();
    fixture.limits.file_size_bytes = Some(1 << 20);
    for mode in MODES {
        let small = fixture.sh(mode, "head -c 4096 /dev/zero > small.bin").await;
        assert!(succeeded(&small), "{mode}: {}", describe(&small));

        let large = fixture
            .sh(mode, "head -c 3000000 /dev/zero > large.bin")
            .await;
        assert!(!succeeded(&large), "{mode}: {}", describe(&large));
        let written = std::fs::metadata(fixture.path_in_workspace("large.bin"))
            .unwrap()
            .len();
        assert!(written <= 1 << 20, "{mode}: wrote {written} bytes");
    }
}

/// RLIMIT_NPROC is not enforced by the kernel for root, so as root this proves the
/// process-count watchdog; as another user the kernel's own limit may hit first.
#[tokio::test]
async fn process_limit_stops_a_bounded_fork_bomb_in_every_mode() {
    let mut fixture = Fixture::new();
    fixture.limits.max_processes = Some(40);
    // A binary tree of shells, depth 7: at most 255 shells plus their sleeps, so a
    // broken limit cannot hurt the machine; the timeout bounds it in time.
    let bomb = "bomb() { if [ $1 -gt 0 ]; then bomb $(($1-1)) & bomb $(($1-1)) & fi; sleep 20; wait; }; bomb 7; echo finished";
    for mode in MODES {
        let mut spec = fixture.spec(bomb);
        spec.timeout = Duration::from_secs(40);
        let output = fixture.try_run(mode, &spec).await.unwrap();
        assert!(
            !text(&output.stdout).contains("finished"),
            "{mode}: {}",
            describe(&output)
        );
        if running_as_root() {
            assert!(
                output.process_limit_exceeded,
                "{mode}: {}",
                describe(&output)
            );
            assert!(!output.timed_out);
            assert!(text(&output.stderr).contains("more than 40 processes"));
        }
    }
}

#[tokio::test]
async fn a_few_processes_under_the_limit_run_to_the_end() {
    let mut fixture = Fixture::new();
    fixture.limits.max_processes = Some(40);
    let line = "for i in 1 2 3 4 5; do sleep 0.3 & done; wait; echo finished";
    for mode in MODES {
        let output = fixture.sh(mode, line).await;
        assert!(succeeded(&output), "{mode}: {}", describe(&output));
        assert!(!output.process_limit_exceeded);
        assert_eq!(text(&output.stdout), "finished\n");
    }
}

#[tokio::test]
async fn memory_limit_stops_large_allocations() {
    let mut fixture = Fixture::new();
    fixture.limits.memory_bytes = Some(256 << 20);
    // `head -c` of 512 MiB into a shell variable needs more address space than allowed.
    let line = "x=$(head -c 536870912 /dev/zero | tr '\\0' a); echo ${#x}";
    for mode in MODES {
        let output = fixture.sh(mode, line).await;
        assert!(
            !text(&output.stdout).contains("536870912"),
            "{mode}: {}",
            describe(&output)
        );
    }
}

#[tokio::test]
async fn cpu_time_limit_stops_a_busy_loop_in_every_mode() {
    let mut fixture = Fixture::new();
    fixture.limits.cpu_seconds = Some(1);
    for mode in MODES {
        // The positive control: a little work finishes under the limit.
        let light = fixture
            .sh(
                mode,
                "i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; echo done",
            )
            .await;
        assert!(succeeded(&light), "{mode}: {}", describe(&light));
        // A loop that never ends is stopped by the kernel (SIGXCPU, then SIGKILL) long
        // before the 30 s timeout.
        let busy = fixture.sh(mode, "while :; do :; done").await;
        assert!(!busy.timed_out, "{mode}: {}", describe(&busy));
        assert!(
            matches!(busy.signal, Some(libc::SIGXCPU | libc::SIGKILL)),
            "{mode}: {}",
            describe(&busy)
        );
    }
}

#[tokio::test]
async fn timeout_kills_grandchildren_that_ignore_sigterm() {
    let fixture = Fixture::new();
    for mode in MODES {
        let marker = fixture.path_in_workspace(&format!("late-{mode}"));
        let line = format!(
            "trap '' TERM; (trap '' TERM; sleep 3; echo alive > {}) & sleep 60",
            quote(&marker)
        );
        let mut spec = fixture.spec(&line);
        spec.timeout = Duration::from_millis(700);
        let output = fixture.try_run(mode, &spec).await.unwrap();
        assert!(output.timed_out, "{mode}: {}", describe(&output));
        assert_eq!(output.signal, Some(libc::SIGKILL));
        assert!(!output.cancelled);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            !marker.exists(),
            "{mode}: a grandchild survived the timeout"
        );
    }
}

#[tokio::test]
async fn the_grandchild_of_the_timeout_test_does_write_when_left_alone() {
    let fixture = Fixture::new();
    for mode in MODES {
        let marker = fixture.path_in_workspace(&format!("late-{mode}"));
        let line = format!("(sleep 0.5; echo alive > {}) & wait", quote(&marker));
        let output = fixture.sh(mode, &line).await;
        assert!(succeeded(&output), "{mode}: {}", describe(&output));
        assert!(
            marker.exists(),
            "{mode}: the positive control did not write"
        );
    }
}

#[tokio::test]
async fn cancellation_kills_the_tree_and_says_so() {
    let fixture = Fixture::new();
    for mode in MODES {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let spec = fixture.spec("trap '' TERM; sleep 60 & sleep 60");
        let output = run(&fixture.policy(mode), &spec, &cancel).await.unwrap();
        assert!(output.cancelled, "{mode}: {}", describe(&output));
        assert!(!output.timed_out);
        assert_eq!(output.signal, Some(libc::SIGKILL));
    }
}

#[tokio::test]
async fn output_beyond_the_limit_keeps_head_and_tail() {
    let fixture = Fixture::new();
    let line =
        "echo HEAD-LINE; head -c 200000 /dev/zero | tr '\\0' x; echo; echo TAIL-LINE; echo ERR >&2";
    for mode in MODES {
        let mut spec = fixture.spec(line);
        spec.output_limit = 1000;
        let output = fixture.try_run(mode, &spec).await.unwrap();
        let seen = text(&output.stdout);
        assert!(output.truncated, "{mode}");
        assert!(seen.starts_with("HEAD-LINE\n"), "{mode}: {seen}");
        assert!(seen.ends_with("TAIL-LINE\n"), "{mode}: {seen}");
        assert!(seen.contains("bytes omitted"));
        assert!(
            output.stdout.len() < 1100,
            "{mode}: kept {} bytes",
            output.stdout.len()
        );
        assert_eq!(text(&output.stderr), "ERR\n");
    }
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let fixture = Fixture::new();
    for mode in MODES {
        let exited = fixture.sh(mode, "exit 3").await;
        assert_eq!((exited.exit_code, exited.signal), (Some(3), None), "{mode}");

        let signalled = fixture.sh(mode, "kill -USR1 $$").await;
        assert_eq!(
            (signalled.exit_code, signalled.signal),
            (None, Some(libc::SIGUSR1)),
            "{mode}"
        );

        let ok = fixture.sh(mode, "true").await;
        assert_eq!(
            (ok.exit_code, ok.signal, ok.timed_out),
            (Some(0), None, false),
            "{mode}"
        );
    }
}

#[tokio::test]
async fn stdin_is_empty() {
    let fixture = Fixture::new();
    for mode in MODES {
        let output = fixture.sh(mode, "cat; echo done").await;
        assert_eq!(text(&output.stdout), "done\n", "{mode}");
    }
}

#[tokio::test]
async fn argv_commands_run_without_a_shell() {
    let fixture = Fixture::new();
    let mut spec = fixture.spec("");
    spec.command =
        hearth_sandbox::CommandLine::Argv(vec!["echo".into(), "$HOME; not expanded".into()]);
    for mode in MODES {
        let output = fixture.try_run(mode, &spec).await.unwrap();
        assert_eq!(text(&output.stdout), "$HOME; not expanded\n", "{mode}");
    }
}

#[tokio::test]
async fn dropping_the_run_future_kills_the_tree() {
    let fixture = std::sync::Arc::new(Fixture::new());
    for mode in MODES {
        let marker = fixture.path_in_workspace(&format!("after-drop-{mode}"));
        let line = format!("(sleep 2; echo alive > {}) & sleep 60", quote(&marker));
        let (policy, spec) = (fixture.policy(mode), fixture.spec(&line));
        let running =
            tokio::spawn(async move { run(&policy, &spec, &CancellationToken::new()).await });
        tokio::time::sleep(Duration::from_millis(500)).await;
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            !marker.exists(),
            "{mode}: the tree outlived the dropped future"
        );
    }
}
