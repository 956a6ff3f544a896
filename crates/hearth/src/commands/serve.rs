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
    let gateway = hearth_gateway::Gateway::new(resolved, store, token, settings);
    let shutdown = shutdown_signal()?;
    eprintln!("listening on http://{listen}");
    hearth_gateway::serve(listener, gateway, shutdown)
        .await
        .context("the gateway stopped")?;
    Ok(ExitCode::SUCCESS)
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
