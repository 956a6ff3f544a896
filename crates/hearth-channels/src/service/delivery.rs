//! Sending: replies formatted by the channel, queued in the outbox (in the transaction
//! that marks their message answered) and delivered with retries, every attempt
//! recorded; approval questions with buttons; "typing…"; received files saved.

use std::sync::PoisonError;

use tokio_util::sync::CancellationToken;

use super::ChannelService;
use crate::channel::{Button, ChatRef};
use crate::pairing;

impl ChannelService {
    pub(super) async fn ask_approval(&self, to: &ChatRef, id: &str, command: &str, reason: &str) {
        self.approvals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), to.clone());
        let text = format!(
            "Approval needed. The agent wants to run:\n\n{command}\n\nWhy: {reason}\n\n\
             Press a button, or reply approve or deny."
        );
        let buttons = [
            Button {
                label: "Approve".into(),
                data: format!("approve:{id}"),
            },
            Button {
                label: "Deny".into(),
                data: format!("deny:{id}"),
            },
        ];
        // The question itself is not queued: it is only worth asking while the turn waits.
        for (index, chunk) in self.channel.format_reply(&text).iter().enumerate() {
            let last = index + 1 == self.channel.format_reply(&text).len();
            let buttons: &[Button] = if last { &buttons } else { &[] };
            if let Err(err) = self.channel.send(to, chunk, buttons).await {
                tracing::warn!("{}: cannot ask for approval: {err}", self.name());
            }
        }
    }

    /// "typing…" renewed until the returned token is cancelled.
    pub(super) fn keep_typing(&self, to: ChatRef) -> CancellationToken {
        let stop = CancellationToken::new();
        let (channel, every, until) = (
            self.channel.clone(),
            self.settings.typing_interval,
            stop.clone(),
        );
        tokio::spawn(async move {
            loop {
                channel.typing(&to).await;
                tokio::select! {
                    () = until.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
        stop
    }

    /// Formats `text`, queues its chunks (marking the inbox message answered in the same
    /// transaction) and sends them; how many were sent, or why one was not.
    pub(super) async fn reply(
        &self,
        to: &ChatRef,
        inbox: Option<i64>,
        text: &str,
    ) -> Result<usize, String> {
        let (ids, chunks) = self.queue(to, inbox, text).await?;
        for (id, chunk) in ids.iter().zip(&chunks) {
            self.deliver(to, *id, chunk).await?;
        }
        Ok(ids.len())
    }

    /// Sends `text` to `chat` without an incoming message, like
    /// [`send_to`](Self::send_to), for a caller that follows the message afterwards (a
    /// scheduled run's delivery): the outbox ids of its chunks (none when it could not be
    /// queued) and whether every chunk was sent. A chunk not sent yet stays queued and is
    /// resent when the channel reconnects; its row says when it was.
    pub async fn send_to_tracked(&self, chat: &str, text: &str) -> (Vec<i64>, Result<(), String>) {
        let to = ChatRef {
            chat: chat.to_string(),
            thread: String::new(),
        };
        let (ids, chunks) = match self.queue(&to, None, text).await {
            Ok(queued) => queued,
            Err(err) => return (Vec::new(), Err(err)),
        };
        for (id, chunk) in ids.iter().zip(&chunks) {
            if let Err(err) = self.deliver(&to, *id, chunk).await {
                return (ids, Err(err));
            }
        }
        (ids, Ok(()))
    }

    /// Formats `text` and queues its chunks in the outbox (marking the inbox message
    /// answered in the same transaction): their ids and the chunks.
    async fn queue(
        &self,
        to: &ChatRef,
        inbox: Option<i64>,
        text: &str,
    ) -> Result<(Vec<i64>, Vec<String>), String> {
        let chunks = if text.trim().is_empty() {
            Vec::new()
        } else {
            self.channel.format_reply(text)
        };
        let (name, target, queued) = (self.channel.name().to_string(), to.clone(), chunks.clone());
        let ids = self
            .with_store(move |store| {
                store.queue_reply(&name, &target.chat, &target.thread, inbox, &queued)
            })
            .await;
        let ids = ids.map_err(|err| {
            tracing::error!("{}: cannot queue a reply: {err}", self.name());
            format!("cannot queue the message: {err}")
        })?;
        Ok((ids, chunks))
    }

    /// Sends one queued chunk, retrying what may work later; records every attempt. A
    /// chunk still failing with a retryable error after the attempts stays `pending` and
    /// is sent again once the channel reconnects (or on the next start); one refused
    /// outright is `failed`. A chunk being sent is not sent again meanwhile.
    pub(super) async fn deliver(&self, to: &ChatRef, id: i64, chunk: &str) -> Result<(), String> {
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id)
        {
            return Err("already being sent".into());
        }
        let result = self.deliver_now(to, id, chunk).await;
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
        result
    }

    async fn deliver_now(&self, to: &ChatRef, id: i64, chunk: &str) -> Result<(), String> {
        let mut wait = self.settings.backoff_initial;
        let attempts = self.settings.send_attempts.max(1);
        for attempt in 1..=attempts {
            let (status, external, error) = match self.channel.send_queued(to, chunk, id).await {
                Ok(delivery) => ("sent", delivery.message_ref, String::new()),
                Err(err) if err.retryable => ("pending", String::new(), err.message),
                Err(err) => ("failed", String::new(), err.message),
            };
            let (recorded_error, recorded_external) = (error.clone(), external.clone());
            if let Err(err) = self
                .with_store(move |store| {
                    store.record_delivery(id, status, &recorded_external, &recorded_error)
                })
                .await
            {
                tracing::error!("{}: cannot record a delivery: {err}", self.name());
            }
            match status {
                "pending" if attempt == attempts => {
                    return Err(format!("not delivered yet (kept to resend): {error}"));
                }
                "pending" => {
                    if self.pause(wait).await {
                        return Err("shutting down; the message stays queued".into());
                    }
                    wait = (wait * 2).min(self.settings.backoff_max);
                }
                "failed" => {
                    tracing::warn!(
                        "{}: a reply to {} was not delivered: {error}",
                        self.name(),
                        to.chat
                    );
                    return Err(format!("not delivered: {error}"));
                }
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    pub(super) async fn save_attachment(
        &self,
        inbox_id: i64,
        attachment: &crate::Attachment,
    ) -> Result<String, String> {
        let limit = self.settings.max_file_bytes;
        let name = pairing::safe_file_name(&attachment.name);
        let too_large = |size: u64| {
            format!("{name} was not saved: it is {size} bytes and the limit is {limit} bytes.")
        };
        if let Some(size) = attachment.size.filter(|size| *size > limit) {
            return Err(too_large(size));
        }
        let bytes = match self.channel.fetch(attachment, limit).await {
            Ok(bytes) => bytes,
            Err(crate::FetchError::TooLarge { size, .. }) => return Err(too_large(size)),
            Err(err) => return Err(format!("{name} could not be fetched: {err}")),
        };
        let file = format!("{inbox_id}-{name}");
        let path = self.settings.inbox_dir.join(&file);
        let written = async {
            tokio::fs::create_dir_all(&self.settings.inbox_dir).await?;
            tokio::fs::write(&path, &bytes).await
        };
        written
            .await
            .map_err(|err| format!("{name} could not be saved: {err}"))?;
        Ok(format!(
            "[The user sent a file, saved in the workspace as inbox/{file} ({} bytes).]",
            bytes.len()
        ))
    }
}
