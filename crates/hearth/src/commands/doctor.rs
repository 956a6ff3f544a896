//! `hearth doctor`: checks the home directory, the config, the state database, the
//! sandbox and whether the configured model answers; lists every outbound destination.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use hearth_models::ollama::TURN_TOKENS_NEEDED;
use hearth_models::ModelRef;
use hearth_protocol::{Message, ModelRequest};
use hearth_store::Store;
use tokio_util::sync::CancellationToken;

use crate::cli::{AgentArgs, DoctorArgs};
use crate::terminal_text::{escape_for_terminal, Layout};
use crate::wiring::resolve;
use hearth_runtime::config::Config;
use hearth_runtime::home::Home;

struct Checks {
    failed: usize,
}

impl Checks {
    fn report(&mut self, ok: bool, what: &str, detail: impl std::fmt::Display) {
        if ok {
            println!("✓ {what}: {detail}");
        } else {
            self.failed += 1;
            println!("✗ {what}: {detail}");
        }
    }

    /// Something that works but will likely go wrong: said, without failing doctor.
    fn warn(&mut self, what: &str, detail: impl std::fmt::Display) {
        println!("! {what}: {detail}");
    }
}

/// Every outbound destination (`hearth_runtime::egress`), and the injection policy.
fn print_destinations(config: &Config) {
    println!("outbound destinations (nothing else is contacted):");
    for destination in hearth_runtime::egress::destinations(config) {
        println!(
            "  {}: {}",
            escape_for_terminal(&destination.who, Layout::OneLine),
            escape_for_terminal(&destination.target, Layout::OneLine)
        );
    }
    println!(
        "prompt-injection policy: [security] injection = \"{}\"",
        config.security.injection
    );
}

pub async fn doctor(args: DoctorArgs) -> Result<ExitCode> {
    let mut checks = Checks { failed: 0 };
    let env = crate::wiring::environment();
    let home = Home::locate_in(&env)?;
    let probe = home.root.join(".doctor-write-test");
    let writable = std::fs::write(&probe, b"ok").and_then(|()| std::fs::remove_file(&probe));
    checks.report(
        writable.is_ok(),
        "home",
        match &writable {
            Ok(()) => home.root.display().to_string(),
            Err(err) => format!("{} is not writable: {err}", home.root.display()),
        },
    );
    let config = Config::load(&home.config_path(), &|name| env.config_var(name));
    match &config {
        Ok(_) if home.config_path().exists() => {
            checks.report(true, "config", home.config_path().display())
        }
        Ok(_) => checks.report(
            true,
            "config",
            format!(
                "{} not present; using defaults",
                home.config_path().display()
            ),
        ),
        Err(err) => checks.report(false, "config", err),
    }
    match Store::open(&home.state_db()) {
        Ok(store) => {
            let count = store.list_sessions().map(|s| s.len()).unwrap_or(0);
            checks.report(
                true,
                "state",
                format!("{} ({count} sessions)", home.state_db().display()),
            );
        }
        Err(err) => checks.report(false, "state", err),
    }
    let mechanism = hearth_sandbox::probe_with(&env.sandbox);
    let sandbox_ok = !matches!(mechanism, hearth_sandbox::Mechanism::Unavailable { .. });
    checks.report(sandbox_ok, "sandbox", &mechanism);
    match hearth_runtime::memory::embedder_status(&env.embedder) {
        Ok(_) => checks.report(
            true,
            "memory",
            format!("{} with the local embedder", home.memory_db().display()),
        ),
        Err(why) => checks.report(false, "memory", why),
    }
    let Ok(config) = config else {
        return Ok(finish(checks));
    };

    print_destinations(&config);

    let resolved = resolve(&AgentArgs {
        model: None,
        workspace: None,
        resume: None,
        sandbox: None,
        approval: None,
        max_steps: None,
        no_stream: true,
    })?;
    checks.report(
        true,
        "policy",
        format!(
            "sandbox {}, approval {}, network {}",
            resolved.sandbox.mode,
            resolved.approval,
            if resolved.sandbox.network {
                "on"
            } else {
                "off"
            }
        ),
    );
    match resolved.model(None) {
        Err(err) => {
            let hint = crate::wiring::hint_for(&err).map_or_else(String::new, |h| format!("; {h}"));
            checks.report(false, "model", format!("{err}{hint}"))
        }
        Ok(model) if args.offline => {
            checks.report(true, "model", format!("{model} (not contacted: --offline)"))
        }
        Ok(model) => {
            let mut quick = config.clone();
            for settings in [&mut quick.openai, &mut quick.anthropic] {
                settings.max_retries = 0;
                settings.idle_timeout = Duration::from_secs(30);
            }
            let provider = hearth_runtime::providers::build(
                &quick,
                &resolved.env,
                &model,
                &resolved.secrets(),
            )?;
            let request = ModelRequest {
                model: model.model.clone(),
                system: "Reply with the single word OK.".into(),
                messages: vec![Message::user("ping")],
                tools: Vec::new(),
                max_tokens: 16,
                stream: false,
            };
            let started = Instant::now();
            let answer = provider
                .complete(&request, &mut |_| {}, &CancellationToken::new())
                .await;
            match answer {
                Ok(_) => checks.report(
                    true,
                    "model",
                    format!("{model} answered in {} ms", started.elapsed().as_millis()),
                ),
                Err(err) => checks.report(false, "model", err),
            }
        }
    }
    if let (false, Ok(model)) = (args.offline, resolved.model(None)) {
        report_ollama_window(&mut checks, &config, &resolved.env, &model).await;
    }
    Ok(finish(checks))
}

/// For an `openai:` model served by Ollama: the window its requests get, and a warning
/// with the fix when a turn with tool results will not fit.
async fn report_ollama_window(
    checks: &mut Checks,
    config: &Config,
    env: &hearth_runtime::Environment,
    model: &ModelRef,
) {
    let Some(info) = hearth_runtime::providers::ollama_server_now(config, env, model).await else {
        return;
    };
    let window = info.context_length;
    let max = info
        .model_max
        .map(|max| format!("; the model supports up to {max}"))
        .unwrap_or_default();
    let detail = format!(
        "Ollama {} gives {} a window of {window} tokens ({}){max}",
        info.version,
        model.model,
        info.source.describe()
    );
    if window >= TURN_TOKENS_NEEDED {
        checks.report(true, "context", detail);
    } else {
        checks.warn(
            "context",
            format!(
                "{detail}; a turn needs about {TURN_TOKENS_NEEDED} (the prompt, the tools and a tool result) and Ollama silently drops the oldest messages beyond the window — raise it with `OLLAMA_CONTEXT_LENGTH=32768 ollama serve`, or `PARAMETER num_ctx 32768` in a Modelfile (`ollama create`)"
            ),
        );
    }
}

fn finish(checks: Checks) -> ExitCode {
    if checks.failed == 0 {
        println!("all checks passed");
        ExitCode::SUCCESS
    } else {
        println!("{} check(s) failed", checks.failed);
        ExitCode::FAILURE
    }
}
