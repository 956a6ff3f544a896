//! Where a scheduled run's answer goes besides its session: `--deliver TARGET`.
//! A target is an `http://` or `https://` webhook that gets a JSON POST
//! `{job, due, session_id, outcome, text}` (a failed POST is retried with backoff and
//! each attempt recorded on the run), or a chat, `NAME:CHAT` for a channel kind in
//! [`CHANNEL_KINDS`] (`telegram:123`, `matrix:!room:server`, `email:me@example.org`),
//! sent through that channel's outbox ([`super::chat_delivery`]). The job is never
//! re-run for a delivery.

use std::time::Duration;

use hearth_channels::CHANNEL_KINDS;
use hearth_store::{DeliveryStatus, RunOutcome, Store};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// How long one webhook POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a failing response's body an error keeps.
const ERROR_BODY_CHARS: usize = 200;

/// A parsed `--deliver` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    /// POST the result as JSON to this URL.
    Webhook(String),
    /// Send the answer to `chat` through the running channel named `channel`.
    Chat { channel: String, chat: String },
}

impl DeliveryTarget {
    /// Reads a `--deliver` value; an unknown scheme is refused, saying what works.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = reqwest::Url::parse(text)
                .map_err(|err| format!("--deliver {text}: not a valid URL ({err})"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("--deliver {text}: the URL has no host"));
            }
            return Ok(Self::Webhook(url.to_string()));
        }
        let scheme = text.split_once(':').map_or(text, |(scheme, _)| scheme);
        let channel = scheme.to_ascii_lowercase();
        if CHANNEL_KINDS.contains(&channel.as_str()) {
            let chat = text[scheme.len()..].trim_start_matches(':').trim();
            if chat.is_empty() {
                return Err(format!(
                    "--deliver {text}: no chat after '{channel}:'; give {channel}:CHAT \
                     (a Telegram chat id, a Matrix room id, an email address)"
                ));
            }
            let chat = chat.to_string();
            return Ok(Self::Chat { channel, chat });
        }
        Err(format!(
            "--deliver {text}: unknown target '{scheme}'; give a webhook URL \
             (https://example.com/hook, which gets a JSON POST) or a chat as NAME:CHAT \
             with NAME one of {} (telegram:123456789, matrix:!room:example.org, \
             email:me@example.org)",
            CHANNEL_KINDS.join(", ")
        ))
    }
}

/// What a webhook receives.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryBody {
    pub job: String,
    pub due: String,
    pub session_id: Option<String>,
    pub outcome: RunOutcome,
    /// The answer, or why there is none.
    pub text: String,
}

/// Delivers `body` to `target`: a first attempt, then one more after each delay of
/// `backoff`, recording each attempt on run `run_id`. Stops early (the delivery stays
/// `pending`) when `cancel` fires.
pub(crate) async fn deliver(
    store: &std::sync::Arc<Store>,
    run_id: i64,
    target: &DeliveryTarget,
    body: &DeliveryBody,
    settings: &super::SchedulerSettings,
    cancel: &CancellationToken,
) {
    let url = match target {
        DeliveryTarget::Webhook(url) => url,
        DeliveryTarget::Chat { channel, chat } => {
            let chat = super::chat_delivery::ChatTarget { channel, chat };
            super::chat_delivery::deliver_to_chat(store, run_id, &chat, body, settings, cancel)
                .await;
            return;
        }
    };
    let backoff = &settings.delivery_backoff;
    let client = match reqwest::Client::builder().timeout(POST_TIMEOUT).build() {
        Ok(client) => client,
        Err(err) => {
            record(store, run_id, DeliveryStatus::Failed, 0, err.to_string()).await;
            return;
        }
    };
    let mut attempts = 0u32;
    let mut delays = backoff.iter();
    loop {
        attempts += 1;
        let error = match client.post(url).json(body).send().await {
            Ok(response) if response.status().is_success() => {
                record(
                    store,
                    run_id,
                    DeliveryStatus::Delivered,
                    attempts,
                    String::new(),
                )
                .await;
                return;
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(ERROR_BODY_CHARS).collect();
                format!("{url} answered {status}: {text}")
            }
            Err(err) => format!("POST {url} failed: {err}"),
        };
        let Some(delay) = delays.next() else {
            tracing::warn!("delivery of scheduled run {run_id} failed: {error}");
            record(store, run_id, DeliveryStatus::Failed, attempts, error).await;
            return;
        };
        record(store, run_id, DeliveryStatus::Pending, attempts, error).await;
        tokio::select! {
            () = tokio::time::sleep(*delay) => {}
            () = cancel.cancelled() => return,
        }
    }
}

pub(super) async fn record(
    store: &std::sync::Arc<Store>,
    run_id: i64,
    status: DeliveryStatus,
    attempts: u32,
    error: String,
) {
    let store = store.clone();
    let written = tokio::task::spawn_blocking(move || {
        store.record_run_delivery(run_id, status, attempts, &error)
    })
    .await;
    if let Ok(Err(err)) = written {
        tracing::warn!("cannot record the delivery of scheduled run {run_id}: {err}");
    }
}
