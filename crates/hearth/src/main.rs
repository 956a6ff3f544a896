//! The `hearth` binary: parses the command line, wires the crates together, prints.
//! Everything interesting lives in the library crates; this file only dispatches.

mod cli;
mod commands;
mod providers;
mod render;
mod terminal_text;
mod wiring;

use hearth_runtime::home;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(wiring::SANDBOX_HELPER_ARG))
    {
        return hearth_sandbox::helper_main(std::env::args_os().skip(2));
    }
    // Before any thread starts: it sets an environment variable (sandboxed commands
    // get a cleared environment, so they do not see it).
    hearth_memory::use_single_threaded_kernels();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("hearth: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(args) => commands::run::run(args).await,
            Command::Chat(args) => commands::chat::chat(args).await,
            Command::Context(args) => commands::context::context(args),
            Command::Sessions(args) => commands::sessions::sessions(args),
            Command::Usage(args) => commands::usage::usage(args),
            Command::Doctor(args) => commands::doctor::doctor(args).await,
            Command::Sandbox(args) => commands::sandbox::sandbox(args).await,
            Command::Skills(args) => commands::skills::skills(args).await,
            Command::Mcp(args) => commands::mcp::mcp(args).await,
            Command::Secrets(args) => commands::secrets::secrets(args),
            Command::Memory(args) => commands::memory::memory(args).await,
            Command::Models(args) => commands::models::models(args).await,
            Command::Service(args) => commands::service::service(args),
            Command::Channels(args) => commands::channels::channels(args),
            Command::Serve(args) => commands::serve::serve(args).await,
            Command::Schedule(args) => commands::schedule::schedule(args).await,
            Command::Heartbeat(args) => commands::heartbeat::heartbeat(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            // Errors can quote model, file or server text.
            let message = terminal_text::escape_for_terminal(
                &wiring::describe(&err),
                terminal_text::Layout::Lines,
            );
            eprintln!("hearth: {message}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: bool) {
    let default = if verbose { "hearth=debug,info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
