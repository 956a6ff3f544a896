//! `hearth serve`: the resident gateway (HTTP/WebSocket API, see hearth-gateway) over one
//! runtime, until SIGINT or SIGTERM. A thin front end: flags and the terminal here,
//! everything else in the gateway crate.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use hearth_gateway::{GatewaySettings, GatewayToken, TOKEN_ENV};
use tokio::signal::unix::{signal, SignalKind};

use crate::cli::AgentArgs;
use crate::home::Home;
use crate::wiring::{environment, print_warning};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port, printed on start).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8420")]
    pub listen: SocketAddr,
    /// Allow a non-loopback --listen address (anyone who can reach it and has the
    /// token can drive the agent).
    #[arg(long)]
    pub allow_remote: bool,
    /// Also accept pages from this origin (repeatable), e.g. http://192.168.1.5:8420 for
    /// the web UI opened on a LAN address; added to `[gateway] origins`.
    #[arg(long = "origin", value_name = "URL", value_parser = hearth_runtime::config::parse_origin)]
    pub origins: Vec<String>,
    /// Print the gateway token (creating it if needed) and exit.
    #[arg(long)]
    pub print_token: bool,
    /// Seconds an approval question waits for an answer before it is a deny.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub approval_timeout: u64,
    #[command(flatten)]
    pub agent: AgentArgs,
}

pub async fn serve(args: ServeArgs) -> Result<ExitCode> {
    if !hearth_gateway::is_loopback_listen(&args.listen) && !args.allow_remote {
        eprintln!(
            "hearth: {} is not a loopback address: listening there exposes the agent's API \
             (running commands and reading the workspace, with the token) to every machine \
             that can reach it, over plain HTTP; pass --allow-remote to do it anyway, ideally \
             behind a TLS proxy",
            args.listen
        );
        return Ok(ExitCode::from(2));
    }
    if args.agent.resume.is_some() {
        anyhow::bail!("hearth serve takes no --resume: sessions are chosen per request");
    }
    let home = Home::locate()?;
    let token = GatewayToken::load_or_create(&home.root, std::env::var(TOKEN_ENV).ok())?;
    if args.print_token {
        println!("{}", token.as_str());
        return Ok(ExitCode::SUCCESS);
    }
    let mut resolved = hearth_runtime::resolve(&args.agent.overrides(), environment())?;
    for warning in resolved.warnings.iter().chain(&resolved.skill_warnings()) {
        print_warning(warning);
    }
    // Checked now, so a gateway without a model says so at start.
    let model = resolved.model(args.agent.model.as_deref())?;
    for warning in resolved.start_mcp_servers().await {
        print_warning(&warning);
    }
    let store = resolved.open_store()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let listen = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let mut settings = GatewaySettings::new(listen);
    settings.approval_timeout = Duration::from_secs(args.approval_timeout);
    settings.default_model = Some(model.to_string());
    settings.extra_origins = resolved.config.gateway_origins.clone();
    settings.extra_origins.extend(args.origins.iter().cloned());
    let origins_note = args.allow_remote && settings.extra_origins.is_empty();
    let gateway = hearth_gateway::Gateway::new(resolved, store.clone(), token, settings);
    // Chat channels (`[channels.telegram]`): stop when the gateway begins to close.
    let channels = hearth_gateway::start_channels(&gateway, store.clone())
        .context("cannot start the chat channels")?;
    for name in &channels.names {
        eprintln!("channel {name} started");
    }
    let shutdown = shutdown_signal()?;
    eprintln!("listening on http://{listen}");
    eprintln!("open http://{listen}/#token={}", token_for_url(&gateway));
    if origins_note {
        eprintln!(
            "hearth: pages opened on other addresses than loopback are refused (403); pages \
             opened on other addresses need --origin http://HOST:PORT (or [gateway] origins)"
        );
    }
    // Scheduled jobs (`hearth schedule`): runs due times through the gateway's sessions;
    // stops when the gateway begins to close.
    let store_for_heartbeat = store.clone();
    let scheduler = hearth_gateway::scheduler::start(
        gateway.sessions.clone(),
        store,
        std::sync::Arc::new(hearth_gateway::scheduler::SystemClock),
        // `--deliver telegram:CHAT` goes through the channels started above.
        hearth_gateway::scheduler::SchedulerSettings {
            channels: channels.directory.clone(),
            ..hearth_gateway::scheduler::SchedulerSettings::default()
        },
    )
    .await
    .context("cannot start the scheduler")?;
    // `[heartbeat]`: probes every `every`, the model woken only on news.
    let heartbeat = hearth_gateway::heartbeat::start(
        hearth_gateway::heartbeat::Heartbeat::new(
            &gateway.runtime,
            gateway.sessions.clone(),
            store_for_heartbeat,
        )
        .context("cannot start the heartbeat")?,
    );
    hearth_gateway::serve(listener, gateway, shutdown)
        .await
        .context("the gateway stopped")?;
    scheduler.shut_down().await;
    if let Some(heartbeat) = heartbeat {
        heartbeat.shut_down(Duration::from_secs(10)).await;
    }
    channels.wait(Duration::from_secs(10)).await;
    Ok(ExitCode::SUCCESS)
}

/// The token as it goes in the web UI's URL fragment (percent-encoded past URL-safe
/// characters; the generated token is hex already).
fn token_for_url(gateway: &hearth_gateway::Gateway) -> String {
    gateway
        .token
        .as_str()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Completes on the first SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        eprintln!("hearth: shutting down (running turns get a few seconds to finish)");
    })
}
