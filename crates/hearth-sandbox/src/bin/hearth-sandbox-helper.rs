//! The Landlock helper on its own, for the sandbox crate's tests and for programs that
//! embed the crate without a binary of their own to re-run (`hearth` runs the same
//! code through its hidden `__sandbox-helper` argument).

fn main() -> std::process::ExitCode {
    hearth_sandbox::helper_main(std::env::args_os().skip(1))
}
