//! `hearth service install|uninstall|status`: runs `hearth serve` as a systemd user
//! service (`~/.config/systemd/user/hearth.service`). Where systemd is missing, or there
//! is no user session to talk to (containers, CI, some SSH logins), the unit file is still
//! written and the command says so and prints how to run the gateway by hand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::home::Home;

/// The unit's name, as `systemctl --user ... hearth` spells it.
const UNIT_NAME: &str = "hearth.service";

#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub command: ServiceCommand,
    /// Where the unit file goes (default: $XDG_CONFIG_HOME/systemd/user, else
    /// ~/.config/systemd/user).
    #[arg(long, value_name = "DIR", global = true, hide = true)]
    pub unit_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write the systemd user unit for `hearth serve`, then enable and start it.
    Install {
        /// The address `hearth serve` listens on (default: serve's own, 127.0.0.1:8420).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// Pass --allow-remote to `hearth serve` (needed for a non-loopback --listen).
        #[arg(long)]
        allow_remote: bool,
    },
    /// Stop and disable the service and remove its unit file.
    Uninstall,
    /// Whether the unit file exists, and whether the service is enabled and running.
    Status,
}

pub fn service(args: ServiceArgs) -> Result<ExitCode> {
    let unit_path = unit_dir(args.unit_dir)?.join(UNIT_NAME);
    let systemd = Systemd::probe();
    match args.command {
        ServiceCommand::Install {
            listen,
            allow_remote,
        } => install(&unit_path, &systemd, listen.as_deref(), allow_remote),
        ServiceCommand::Uninstall => uninstall(&unit_path, &systemd),
        ServiceCommand::Status => status(&unit_path, &systemd),
    }
}

fn install(
    unit_path: &Path,
    systemd: &Systemd,
    listen: Option<&str>,
    allow_remote: bool,
) -> Result<ExitCode> {
    let home = Home::locate()?;
    let binary = std::env::current_exe()
        .and_then(|path| path.canonicalize())
        .context("cannot find the path of the running hearth binary")?;
    let mut serve_args = vec!["serve".to_string()];
    if let Some(listen) = listen {
        serve_args.extend(["--listen".to_string(), listen.to_string()]);
    }
    if allow_remote {
        serve_args.push("--allow-remote".to_string());
    }
    let text = unit_file_text(&binary, &home.root, &serve_args)?;
    let existed = unit_path.exists();
    if let Some(dir) = unit_path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the unit directory {}", dir.display()))?;
    }
    std::fs::write(unit_path, text)
        .with_context(|| format!("cannot write the unit file {}", unit_path.display()))?;
    let verb = if existed { "updated" } else { "wrote" };
    eprintln!("{verb} {}", unit_path.display());
    match systemd {
        Systemd::Available => {
            systemd.run(&["daemon-reload"])?;
            systemd.run(&["enable", "--now", UNIT_NAME])?;
            if existed {
                systemd.run(&["try-restart", UNIT_NAME])?;
            }
            eprintln!("enabled and started {UNIT_NAME}; see `hearth service status`");
            eprintln!("logs: journalctl --user -u hearth -f");
        }
        Systemd::Unavailable(reason) => {
            eprintln!("systemd is not available here: {reason}");
            eprintln!(
                "the unit file is in place for when it is; until then run the gateway by hand:"
            );
            eprintln!(
                "  HEARTH_HOME={} {} {}",
                shell_quote(&home.root.to_string_lossy()),
                shell_quote(&binary.to_string_lossy()),
                serve_args
                    .iter()
                    .map(|arg| shell_quote(arg))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn uninstall(unit_path: &Path, systemd: &Systemd) -> Result<ExitCode> {
    if let Systemd::Available = systemd {
        // Not installed through systemd is fine: disable reports it and we go on.
        if let Err(err) = systemd.run(&["disable", "--now", UNIT_NAME]) {
            eprintln!("note: {err:#}");
        }
    }
    if !unit_path.exists() {
        eprintln!("no unit file at {}; nothing to remove", unit_path.display());
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::remove_file(unit_path)
        .with_context(|| format!("cannot remove the unit file {}", unit_path.display()))?;
    eprintln!("removed {}", unit_path.display());
    match systemd {
        Systemd::Available => systemd.run(&["daemon-reload"])?,
        Systemd::Unavailable(reason) => eprintln!("systemd is not available here: {reason}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn status(unit_path: &Path, systemd: &Systemd) -> Result<ExitCode> {
    let installed = if unit_path.exists() {
        "installed"
    } else {
        "not installed"
    };
    println!("unit: {} ({installed})", unit_path.display());
    match systemd {
        Systemd::Available => {
            println!("enabled: {}", systemd.query(&["is-enabled", UNIT_NAME]));
            println!("active: {}", systemd.query(&["is-active", UNIT_NAME]));
        }
        Systemd::Unavailable(reason) => {
            println!("systemd: not available ({reason})");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--unit-dir`, else `$XDG_CONFIG_HOME/systemd/user`, else `~/.config/systemd/user`:
/// where systemd looks for a user's own units.
fn unit_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir);
    }
    let config_home = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => bail!("neither XDG_CONFIG_HOME nor HOME is set; pass --unit-dir DIR"),
        },
    };
    Ok(config_home.join("systemd").join("user"))
}

/// The unit: `hearth serve` from this binary's absolute path, with this `HEARTH_HOME`,
/// restarted when it fails. Keys for model providers go in `$HEARTH_HOME/service.env`
/// (optional; a service does not inherit the login shell's environment) or in
/// `hearth secrets`.
fn unit_file_text(binary: &Path, home: &Path, serve_args: &[String]) -> Result<String> {
    let binary = systemd_quote(&binary.to_string_lossy())?;
    let home_text = home.to_string_lossy();
    let environment = systemd_quote(&format!("HEARTH_HOME={home_text}"))?;
    // EnvironmentFile= takes the rest of the line as the path (no quotes).
    let env_file = format!("{home_text}/service.env").replace('%', "%%");
    let args = serve_args
        .iter()
        .map(|arg| systemd_quote(arg))
        .collect::<Result<Vec<_>>>()?
        .join(" ");
    Ok(format!(
        "# Written by `hearth service install`; remove with `hearth service uninstall`.\n\
         [Unit]\n\
         Description=Hearth personal AI agent gateway (hearth serve)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={binary} {args}\n\
         Environment={environment}\n\
         EnvironmentFile=-{env_file}\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    ))
}

/// One word for a unit file: double-quoted, with `\` and `"` escaped and `%` doubled
/// (systemd expands `%x` specifiers). A control character cannot be written safely.
fn systemd_quote(word: &str) -> Result<String> {
    if word.chars().any(char::is_control) {
        bail!("{word:?} contains a control character, which a unit file cannot hold; use a path without one");
    }
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    Ok(format!("\"{escaped}\""))
}

/// One word for a POSIX shell: as it is when it is plain, else single-quoted.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/=@+,".contains(c));
    if plain {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Whether `systemctl --user` can reach a user manager. `HEARTH_SYSTEMCTL` names the
/// program to use instead of `systemctl` (tests point it at a recorder or at nothing).
enum Systemd {
    Available,
    Unavailable(String),
}

impl Systemd {
    fn program() -> std::ffi::OsString {
        std::env::var_os("HEARTH_SYSTEMCTL")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "systemctl".into())
    }

    fn probe() -> Systemd {
        let output = std::process::Command::new(Self::program())
            .args(["--user", "show-environment"])
            .stdin(std::process::Stdio::null())
            .output();
        match output {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Systemd::Unavailable(
                "systemctl was not found (this system does not use systemd)".into(),
            ),
            Err(err) => Systemd::Unavailable(format!("cannot run systemctl: {err}")),
            Ok(out) if !out.status.success() => {
                let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
                Systemd::Unavailable(format!(
                    "no systemd user session to talk to (systemctl --user said: {said})"
                ))
            }
            Ok(_) => Systemd::Available,
        }
    }

    /// Runs `systemctl --user ARGS`, failing with what it said.
    fn run(&self, args: &[&str]) -> Result<()> {
        let output = std::process::Command::new(Self::program())
            .arg("--user")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot run systemctl --user {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "systemctl --user {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The one-word answer of `systemctl --user is-enabled|is-active UNIT`.
    fn query(&self, args: &[&str]) -> String {
        match std::process::Command::new(Self::program())
            .arg("--user")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
        {
            Ok(out) => {
                let word = String::from_utf8_lossy(&out.stdout).trim().to_string();
                if word.is_empty() {
                    "unknown".into()
                } else {
                    word
                }
            }
            Err(err) => format!("unknown ({err})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_words_are_quoted_escaped_and_refused_with_control_characters() {
        assert_eq!(
            systemd_quote(r#"/a b/"x"\%h"#).unwrap(),
            r#""/a b/\"x\"\\%%h""#
        );
        assert!(systemd_quote("/a\nb").is_err());
        assert_eq!(shell_quote("127.0.0.1:8420"), "127.0.0.1:8420");
        assert_eq!(shell_quote("it's"), r#"'it'\''s'"#);
    }
}
