//! `hearth secrets set|list|rm`: values come from stdin (never argv, so they stay out of
//! shell history and `ps`), are stored with mode 0600 outside the workspace, and are only
//! ever named, never printed.

use std::io::{BufRead, IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hearth_secrets::SecretStore;

use crate::home::Home;

#[derive(Debug, Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    pub command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret; the value is read from stdin (hidden when typed at a terminal).
    /// Refer to it in config.toml as "secret:NAME".
    Set {
        /// 1-64 characters of letters, digits, '_', '-' or '.'.
        name: String,
    },
    /// List the names of stored secrets (never their values).
    List,
    /// Remove a stored secret.
    Rm { name: String },
}

pub fn secrets(args: SecretsArgs) -> Result<ExitCode> {
    let home = Home::locate()?;
    let store = SecretStore::new(&home.secrets_file());
    match args.command {
        SecretsCommand::Set { name } => {
            hearth_secrets::validate_name(&name)?;
            let value = read_value(&name)?;
            store.set(&name, &value)?;
            eprintln!(
                "stored secret '{name}' in {} (mode 0600)",
                store.path().display()
            );
        }
        SecretsCommand::List => {
            let names = store.names()?;
            if names.is_empty() {
                eprintln!("no secrets stored; add one with `hearth secrets set NAME`");
            }
            for name in names {
                println!("{name}");
            }
        }
        SecretsCommand::Rm { name } => {
            if !store.remove(&name)? {
                eprintln!("hearth: no secret named '{name}'");
                return Ok(ExitCode::FAILURE);
            }
            eprintln!("removed secret '{name}'");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line from a terminal with echo off, or all of piped stdin (a trailing newline
/// dropped).
fn read_value(name: &str) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("value for '{name}' (input hidden): ");
        let _echo_off = EchoOff::new();
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the value")?;
        eprintln!();
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let mut value = String::new();
    stdin
        .lock()
        .read_to_string(&mut value)
        .context("cannot read the value from stdin")?;
    Ok(value
        .strip_suffix('\n')
        .unwrap_or(&value)
        .trim_end_matches('\r')
        .to_string())
}

/// Turns terminal echo off until dropped.
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> Self {
        // SAFETY: tcgetattr/tcsetattr on stdin with a zeroed, then filled, termios.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                return Self { saved: None };
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            term.c_lflag |= libc::ECHONL;
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term);
            Self { saved: Some(saved) }
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}
