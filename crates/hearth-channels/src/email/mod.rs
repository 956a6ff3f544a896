//! Email over IMAP and SMTP: new mail is read by IMAP (IDLE where the server has it,
//! polling otherwise), replies are sent by SMTP as plain text that keep the thread
//! (`In-Reply-To`, `References`, `Re:`). One thread (its root `Message-ID`) is one
//! session. The cursor is `UIDVALIDITY:UID` of the last mail taken; a mail is flagged
//! `\Seen` on the server (the acknowledgement) only once the router stored a cursor past
//! it, and mail is deduplicated by `Message-ID`, so nothing is answered twice.
//!
//! A `From:` header can be forged by anyone who can send mail. With
//! `require_authenticated`, only mail whose `Authentication-Results` header from the
//! user's own server (`authserv_id`) passes DMARC, DKIM or SPF for the From domain is
//! taken (see `auth`); everything else is flagged `\Seen` and ignored.

mod auth;
mod compose;
mod imap;
mod parse;
mod stream;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::channel::{
    Attachment, Batch, Button, Channel, ChannelError, ChatRef, Delivery, FetchError,
};

pub use auth::authenticated_for;

/// How the connections to the IMAP and SMTP servers are secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTls {
    /// TLS from the first byte (IMAPS 993, SMTPS 465).
    Tls,
    /// A plain connection upgraded by `STARTTLS` (IMAP 143, submission 587); refused if
    /// the server does not offer it.
    StartTls,
    /// No encryption: only for servers on the loopback interface.
    None,
}

/// Where the mailbox is and how the channel behaves.
#[derive(Clone)]
pub struct EmailSettings {
    pub imap_host: String,
    pub imap_port: u16,
    pub smtp_host: String,
    pub smtp_port: u16,
    /// The login for both servers.
    pub username: String,
    /// Resolved from `secret:NAME`; never logged.
    pub password: String,
    /// The agent's own address: the `From:` of replies; mail from it is ignored.
    pub address: String,
    pub tls: EmailTls,
    /// Take only mail whose `Authentication-Results` from `authserv_id` passes.
    pub require_authenticated: bool,
    /// The `authserv-id` the user's own server writes in `Authentication-Results`.
    pub authserv_id: String,
    /// How long one IDLE (or, without IDLE, one pause between polls) lasts.
    pub wait: Duration,
    /// The mailbox read (`INBOX`).
    pub mailbox: String,
    /// A larger mail is read by its headers only.
    pub max_message_bytes: u64,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("imap", &format!("{}:{}", self.imap_host, self.imap_port))
            .field("smtp", &format!("{}:{}", self.smtp_host, self.smtp_port))
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .field("address", &self.address)
            .field("tls", &self.tls)
            .field("require_authenticated", &self.require_authenticated)
            .field("authserv_id", &self.authserv_id)
            .finish()
    }
}

impl EmailSettings {
    /// Settings with TLS, `INBOX`, one-minute waits and a 25 MB message limit.
    pub fn new(
        imap: (String, u16),
        smtp: (String, u16),
        username: String,
        password: String,
        address: String,
    ) -> Self {
        Self {
            imap_host: imap.0,
            imap_port: imap.1,
            smtp_host: smtp.0,
            smtp_port: smtp.1,
            username,
            password,
            address,
            tls: EmailTls::Tls,
            require_authenticated: false,
            authserv_id: String::new(),
            wait: Duration::from_secs(60),
            mailbox: "INBOX".into(),
            max_message_bytes: 25 * 1024 * 1024,
        }
    }
}

/// Whether `host` names the loopback interface (where `tls = "none"` is allowed).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What a reply in a thread needs to keep it: the subject, the mail it answers and the
/// thread's references (learnt from received mail; kept in memory).
#[derive(Debug, Clone, Default)]
struct ThreadHeaders {
    subject: String,
    in_reply_to: String,
    references: Vec<String>,
}

/// The email channel.
pub struct EmailChannel {
    settings: EmailSettings,
    imap: imap::ImapReader,
    threads: Mutex<HashMap<String, ThreadHeaders>>,
}

impl EmailChannel {
    /// Refuses an unencrypted connection to a server off the loopback interface.
    pub fn new(settings: EmailSettings) -> Result<Self, ChannelError> {
        if settings.tls == EmailTls::None {
            for host in [&settings.imap_host, &settings.smtp_host] {
                if !is_loopback_host(host) {
                    return Err(ChannelError::fatal(format!(
                        "email: tls = \"none\" is only allowed for loopback servers, not {host}"
                    )));
                }
            }
        }
        Ok(Self {
            imap: imap::ImapReader::new(settings.clone()),
            settings,
            threads: Mutex::new(HashMap::new()),
        })
    }

    fn remember(&self, thread: &str, update: ThreadHeaders) {
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(thread.to_string(), update);
    }
}

#[async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &str {
        "email"
    }

    async fn receive(&self, cursor: Option<&str>) -> Result<Batch, ChannelError> {
        let (batch, threads) = self.imap.receive(cursor).await?;
        for (thread, headers) in threads {
            self.remember(&thread, headers);
        }
        Ok(batch)
    }

    /// Plain text, never HTML: nothing the model writes is interpreted. One mail.
    fn format_reply(&self, text: &str) -> Vec<String> {
        vec![compose::plain_text(text)]
    }

    async fn send(
        &self,
        to: &ChatRef,
        formatted: &str,
        buttons: &[Button],
    ) -> Result<Delivery, ChannelError> {
        let mut body = formatted.to_string();
        if !buttons.is_empty() {
            body.push_str(
                "\n\n(Email has no buttons: reply with approve or deny as the first line.)",
            );
        }
        let headers = self
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&to.thread)
            .cloned();
        let headers = headers.unwrap_or_else(|| compose::headers_without_history(&to.thread));
        let message_id = compose::send(&self.settings, &to.chat, &headers, &body).await?;
        if !to.thread.is_empty() {
            let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = threads.entry(to.thread.clone()).or_insert(headers);
            entry.references.push(message_id.clone());
        }
        Ok(Delivery {
            message_ref: message_id,
        })
    }

    async fn typing(&self, _to: &ChatRef) {}

    async fn answer_button(&self, _to: &ChatRef, _press: &str, _message: &str, _answer: &str) {}

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Vec<u8>, FetchError> {
        self.imap
            .fetch_attachment(&attachment.handle, max_bytes)
            .await
    }
}
