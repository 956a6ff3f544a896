//! Tests that try to break out of the sandbox. Each attempt (`breakout/cases.rs`) must
//! fail under `workspace-write` and succeed under `full-access`, so every test can fail:
//! if the sandbox stopped doing its job, the first half would break; if the attempt
//! itself were broken, the second half would. `breakout_cases!` runs every case under
//! bubblewrap (`breakout::bubblewrap::*`) and under the Landlock helper
//! (`breakout::landlock::*`), in this one test binary.

mod cases;

use tokio_util::sync::CancellationToken;

use crate::common::*;
use hearth_sandbox::SandboxMode::WorkspaceWrite;

/// A module named `$module` with one `#[tokio::test]` per breakout case, each running
/// the case under `$mechanism`.
macro_rules! breakout_cases {
    ($module:ident, $mechanism:expr) => {
        mod $module {
            breakout_cases!(@each $mechanism;
                writing_outside_the_workspace_fails,
                writing_into_dot_git_fails,
                writing_through_a_planted_symlink_fails,
                symlink_cwd_pointing_outside_is_refused,
                reading_the_secrets_file_and_state_db_fails,
                files_created_in_hearth_home_later_stay_hidden,
                skills_in_hearth_home_are_readable_but_not_writable,
                changing_kernel_settings_fails,
                overwriting_hidden_files_does_not_reach_them,
                writing_to_a_home_directory_fails,
                writing_to_tmp_stays_private,
                connecting_to_a_host_loopback_server_with_python_fails,
                connecting_through_dev_tcp_fails,
                reaching_a_host_service_by_name_fails,
                network_flag_lets_the_command_reach_the_host,
                signalling_a_process_outside_fails,
                inspecting_a_process_outside_through_proc_fails,
                ptrace_attach_to_a_process_outside_fails,
                the_sandboxed_command_has_no_capabilities,
                environment_is_cleared_to_a_safe_set_plus_spec_env,
                read_only_mode_reads_but_cannot_write_the_workspace,
                cwd_outside_the_workspace_is_refused_in_sandboxed_modes,
                relative_cwd_is_taken_from_the_workspace,
                without_a_mechanism_sandboxed_modes_are_refused_and_full_access_runs,
                connecting_to_a_daemon_socket_in_run_fails,
                resolver_config_stays_readable_when_run_is_masked,
                a_workspace_under_tmp_stays_visible_and_writable,
                a_hearth_home_inside_the_workspace_stays_hidden,
                a_detached_process_does_not_outlive_its_command,
                detached_processes_over_the_limit_are_all_killed,
                a_host_process_is_not_even_listed,
                every_git_folder_is_read_only_and_new_repositories_are_reported,
                read_only_paths_in_the_workspace_cannot_be_changed,
                #[cfg(target_arch = "x86_64")] kernel_keyrings_and_io_uring_are_refused,
            );
        }
    };
    (@each $mechanism:expr; $($(#[$attribute:meta])* $case:ident,)*) => {
        $(
            $(#[$attribute])*
            #[tokio::test]
            async fn $case() {
                super::cases::$case($mechanism).await
            }
        )*
    };
}

breakout_cases!(bubblewrap, crate::common::Choice::Bubblewrap);
breakout_cases!(landlock, crate::common::Choice::Landlock);

#[tokio::test]
async fn probe_finds_bubblewrap_and_names_it() {
    let mechanism = hearth_sandbox::probe();
    assert!(
        mechanism.to_string().starts_with("bubblewrap ("),
        "{mechanism}"
    );
    let broken = hearth_sandbox::probe_bwrap(std::path::Path::new("/nonexistent/bwrap"));
    assert!(!broken.is_available());
    assert!(
        broken.to_string().contains("/nonexistent/bwrap"),
        "{broken}"
    );
}

#[tokio::test]
async fn run_uses_the_probed_mechanism() {
    let fixture = Fixture::with(Choice::Bubblewrap);
    let output = hearth_sandbox::run(
        &fixture.policy(WorkspaceWrite),
        &fixture.spec("echo hi"),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(text(&output.stdout), "hi\n");
}
