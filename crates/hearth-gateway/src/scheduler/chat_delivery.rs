//! `--deliver NAME:CHAT`: a scheduled run's answer sent to a chat through the running
//! channel's outbox (durable, retried by the channel, every attempt on the outbox row),
//! and followed from the run row: `delivered` once every chunk was sent, `failed` when
//! the channel is not running here, the chat is not one the agent may write to unasked,
//! or the channel gave up. The rule for which chats may be written to is
//! `channel_send`'s ([`hearth_channels::ChannelService::may_send_to`]), not a second one.
//!
//! A chunk the channel could not send yet stays in its outbox and is resent when the
//! channel reconnects; the run row follows it for the scheduler's delivery backoff, then
//! is left `pending` with a note (the outbox still sends it). The job is never re-run.

use std::sync::Arc;

use hearth_store::{DeliveryStatus, OutboxReply, RunOutcome, Store};
use tokio_util::sync::CancellationToken;

use super::delivery::{record, DeliveryBody};
use super::run::blocking;
use super::SchedulerSettings;

/// A parsed `NAME:CHAT` target.
pub(super) struct ChatTarget<'a> {
    pub channel: &'a str,
    pub chat: &'a str,
}

/// Where a message's outbox rows stand.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Sent { attempts: u32 },
    Failed { attempts: u32, error: String },
    Pending { attempts: u32, error: String },
}

/// Sends `body`'s answer to `target`, recording the delivery on run `run_id`.
pub(super) async fn deliver_to_chat(
    store: &Arc<Store>,
    run_id: i64,
    target: &ChatTarget<'_>,
    body: &DeliveryBody,
    settings: &SchedulerSettings,
    cancel: &CancellationToken,
) {
    let ChatTarget { channel, chat } = *target;
    let Some(service) = settings.channels.get(channel) else {
        let error = format!(
            "the {channel} channel is not running in this gateway: configure \
             [channels.{channel}] and restart hearth serve (a run outside a gateway has no \
             channels)"
        );
        record(store, run_id, DeliveryStatus::Failed, 0, error).await;
        return;
    };
    if !service.may_send_to(chat).await {
        let error = format!(
            "chat {chat} on {channel} is not a chat of anyone allowed to talk to the agent \
             (allowed_users, or admitted with hearth channels pair); not sent"
        );
        tracing::warn!("scheduled run {run_id} of '{}': {error}", body.job);
        record(store, run_id, DeliveryStatus::Failed, 0, error).await;
        return;
    }
    let (ids, sent) = service.send_to_tracked(chat, &message_text(body)).await;
    if ids.is_empty() {
        let error = sent.err().unwrap_or_else(|| "nothing was queued".into());
        record(store, run_id, DeliveryStatus::Failed, 0, error).await;
        return;
    }
    let mut delays = settings.delivery_backoff.iter();
    loop {
        match progress(store, &ids).await {
            Progress::Sent { attempts } => {
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
            Progress::Failed { attempts, error } => {
                tracing::warn!(
                    "delivery of scheduled run {run_id} to {channel}:{chat} failed: {error}"
                );
                record(store, run_id, DeliveryStatus::Failed, attempts, error).await;
                return;
            }
            Progress::Pending { attempts, error } => {
                let note = format!(
                    "kept in the {channel} outbox, resent when the channel reconnects: {error}"
                );
                record(store, run_id, DeliveryStatus::Pending, attempts, note).await;
            }
        }
        let Some(delay) = delays.next() else {
            tracing::warn!(
                "scheduled run {run_id}: its answer waits in the {channel} outbox for {chat}"
            );
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(*delay) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// What the chat receives: the answer, or why there is none.
fn message_text(body: &DeliveryBody) -> String {
    match body.outcome {
        RunOutcome::Ok if !body.text.trim().is_empty() => body.text.clone(),
        RunOutcome::Ok => format!("The scheduled job {} finished without an answer.", body.job),
        _ => format!(
            "The scheduled job {} ended without an answer: {}",
            body.job, body.text
        ),
    }
}

/// Reads the message's outbox rows (a read error counts as still pending).
async fn progress(store: &Arc<Store>, ids: &[i64]) -> Progress {
    let ids = ids.to_vec();
    match blocking(store, move |store| store.outbox_replies(&ids)).await {
        Ok(rows) => summarise(&rows),
        Err(err) => Progress::Pending {
            attempts: 0,
            error: format!("cannot read the outbox: {err}"),
        },
    }
}

/// Sent when every row is; failed when any is; pending otherwise. Attempts are the most
/// any chunk took.
fn summarise(rows: &[OutboxReply]) -> Progress {
    let attempts = rows
        .iter()
        .map(|row| u32::try_from(row.attempts).unwrap_or(u32::MAX))
        .max()
        .unwrap_or(0);
    if let Some(row) = rows.iter().find(|row| row.status == "failed") {
        return Progress::Failed {
            attempts,
            error: row.last_error.clone(),
        };
    }
    match rows.iter().find(|row| row.status != "sent") {
        Some(row) => Progress::Pending {
            attempts,
            error: row.last_error.clone(),
        },
        None if rows.is_empty() => Progress::Pending {
            attempts,
            error: "the outbox rows are gone".into(),
        },
        None => Progress::Sent { attempts },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, attempts: i64, error: &str) -> OutboxReply {
        OutboxReply {
            id: 1,
            channel: "telegram".into(),
            chat: "42".into(),
            thread: String::new(),
            body: "text".into(),
            status: status.into(),
            attempts,
            last_error: error.into(),
        }
    }

    #[test]
    fn every_chunk_sent_is_delivered_and_any_failed_chunk_fails_it() {
        assert_eq!(
            summarise(&[row("sent", 1, ""), row("sent", 3, "")]),
            Progress::Sent { attempts: 3 }
        );
        assert_eq!(
            summarise(&[row("sent", 1, ""), row("pending", 2, "502")]),
            Progress::Pending {
                attempts: 2,
                error: "502".into()
            }
        );
        assert_eq!(
            summarise(&[row("pending", 2, "502"), row("failed", 1, "403")]),
            Progress::Failed {
                attempts: 2,
                error: "403".into()
            }
        );
    }
}
