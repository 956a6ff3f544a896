//! `hearth channels`: pair a stranger who was sent a code (`pair CODE`), and show the
//! configured channels, their connection state as the gateway last recorded it, and the
//! admitted senders (`list`, `status`, `--json`).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use hearth_runtime::config::Config;
use hearth_runtime::home::Home;
use hearth_store::{AdmittedSender, ChannelStatus, Store};
use serde::Serialize;

use crate::terminal_text::{escape_for_terminal, json_for_terminal, Layout};

#[derive(Debug, Args)]
pub struct ChannelsArgs {
    #[command(subcommand)]
    pub command: ChannelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ChannelsCommand {
    /// Admit the sender a pairing code was sent to (the code from their chat).
    Pair {
        /// The 8-character code, as the chat shows it (case does not matter).
        code: String,
    },
    /// The configured channels and the admitted senders.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Like `list`, with each channel's connection state, cursor and unanswered messages.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// One channel as `list` and `status` show it.
#[derive(Debug, Serialize)]
struct ChannelView {
    name: String,
    configured: bool,
    /// Telegram user ids always admitted by config.
    allowed_users: Vec<String>,
    /// As the gateway last recorded it (`unknown` when it never ran this channel).
    connection: String,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    unanswered: i64,
    updated_at: String,
}

#[derive(Debug, Serialize)]
struct ChannelsView {
    channels: Vec<ChannelView>,
    admitted: Vec<AdmittedSender>,
}

pub fn channels(args: ChannelsArgs) -> Result<ExitCode> {
    let env = crate::wiring::environment();
    let home = Home::locate_in(&env)?;
    let store = Store::open(&home.state_db())?;
    match args.command {
        ChannelsCommand::Pair { code } => pair(&store, &code),
        ChannelsCommand::List { json } => {
            let config = Config::load(&home.config_path(), &|name| env.config_var(name))?;
            show(&store, &config, json, false)
        }
        ChannelsCommand::Status { json } => {
            let config = Config::load(&home.config_path(), &|name| env.config_var(name))?;
            show(&store, &config, json, true)
        }
    }
}

fn pair(store: &Store, code: &str) -> Result<ExitCode> {
    let admitted = store
        .pair(code, hearth_channels::unix_now())
        .context("cannot read the pairing codes")?;
    match admitted {
        Some(sender) => {
            let name = if sender.display_name.is_empty() {
                String::new()
            } else {
                format!(" ({})", sender.display_name)
            };
            println!(
                "admitted {} sender {}{name}; their next message is answered",
                escape_for_terminal(&sender.channel, Layout::OneLine),
                escape_for_terminal(&sender.sender, Layout::OneLine),
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "hearth: no pairing code {} is waiting (codes expire after an hour; the \
                 sender gets a new one when they write again after that)",
                escape_for_terminal(code, Layout::OneLine)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn show(store: &Store, config: &Config, json: bool, with_state: bool) -> Result<ExitCode> {
    let statuses = store.channel_statuses()?;
    let mut channels: Vec<ChannelView> = Vec::new();
    if let Some(telegram) = &config.channels.telegram {
        channels.push(view(
            "telegram",
            true,
            telegram.allowed_users.iter().map(i64::to_string).collect(),
            statuses.iter().find(|status| status.channel == "telegram"),
        ));
    }
    if let Some(matrix) = &config.channels.matrix {
        channels.push(view(
            "matrix",
            true,
            matrix.allowed_users.clone(),
            statuses.iter().find(|status| status.channel == "matrix"),
        ));
    }
    for status in &statuses {
        if !channels
            .iter()
            .any(|channel| channel.name == status.channel)
        {
            channels.push(view(&status.channel, false, Vec::new(), Some(status)));
        }
    }
    let admitted = store.admitted_senders()?;
    if json {
        let view = ChannelsView { channels, admitted };
        println!(
            "{}",
            json_for_terminal(&serde_json::to_string_pretty(&view)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if channels.is_empty() {
        println!("no channels configured (add [channels.telegram] to config.toml)");
    }
    for channel in &channels {
        let mut line = escape_for_terminal(&channel.name, Layout::OneLine);
        if !channel.configured {
            line.push_str(" (no longer configured)");
        }
        if with_state {
            line.push_str(&format!(
                "  {}  unanswered: {}  since {}",
                escape_for_terminal(&channel.connection, Layout::OneLine),
                channel.unanswered,
                channel.updated_at
            ));
            if !channel.detail.is_empty() {
                line.push_str(&format!(
                    "  ({})",
                    escape_for_terminal(&channel.detail, Layout::OneLine)
                ));
            }
        }
        println!("{line}");
        if !channel.allowed_users.is_empty() {
            println!("  allowed by config: {}", channel.allowed_users.join(", "));
        }
    }
    if admitted.is_empty() {
        println!("no senders admitted by pairing");
    }
    for sender in &admitted {
        println!(
            "admitted: {} {} {} since {}",
            escape_for_terminal(&sender.channel, Layout::OneLine),
            escape_for_terminal(&sender.sender, Layout::OneLine),
            escape_for_terminal(&sender.display_name, Layout::OneLine),
            sender.admitted_at
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn view(
    name: &str,
    configured: bool,
    allowed_users: Vec<String>,
    status: Option<&ChannelStatus>,
) -> ChannelView {
    ChannelView {
        name: name.to_string(),
        configured,
        allowed_users,
        connection: status.map_or("unknown".into(), |s| s.connection.clone()),
        detail: status.map(|s| s.detail.clone()).unwrap_or_default(),
        cursor: status.and_then(|s| s.cursor.clone()),
        unanswered: status.map_or(0, |s| s.pending),
        updated_at: status.map(|s| s.updated_at.clone()).unwrap_or_default(),
    }
}
