//! Replies: a plain-text mail (never HTML, so nothing the model writes is interpreted)
//! that keeps the thread (`In-Reply-To`, `References`, `Re:` subject), marked
//! `Auto-Submitted: auto-replied` (RFC 3834) so that auto-responders do not answer it,
//! sent by SMTP with the account's login.

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{EmailSettings, EmailTls, ThreadHeaders};
use crate::channel::ChannelError;

/// The subject of a mail that starts no thread (a proactive message).
const NEW_SUBJECT: &str = "A message from your Hearth agent";

/// The model's text as a plain-text body: `\n` line ends, no other control characters.
pub(super) fn plain_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// Headers for a thread the channel has not seen since it started (a reply queued
/// before a restart): the root as what it answers, a generic subject.
pub(super) fn headers_without_history(thread: &str) -> ThreadHeaders {
    if thread.is_empty() {
        return ThreadHeaders {
            subject: String::new(),
            in_reply_to: String::new(),
            references: Vec::new(),
        };
    }
    ThreadHeaders {
        subject: "your mail".into(),
        in_reply_to: thread.to_string(),
        references: vec![thread.to_string()],
    }
}

fn reply_subject(subject: &str) -> String {
    let subject = subject.trim();
    if subject.is_empty() {
        return NEW_SUBJECT.into();
    }
    let lower = subject.to_ascii_lowercase();
    if lower.starts_with("re:") {
        subject.to_string()
    } else {
        format!("Re: {subject}")
    }
}

/// `Auto-Submitted: auto-replied`.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

/// A fresh `Message-ID` in the agent's domain (without angle brackets).
fn new_message_id(address: &str) -> Result<String, ChannelError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|err| ChannelError::fatal(format!("email: no randomness: {err}")))?;
    let random: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    let domain = address
        .rsplit_once('@')
        .map_or("hearth.invalid", |(_, d)| d);
    Ok(format!("hearth.{random}@{domain}"))
}

/// Sends `body` to `to` in the thread `headers` describe; the sent `Message-ID`.
pub(super) async fn send(
    settings: &EmailSettings,
    to: &str,
    headers: &ThreadHeaders,
    body: &str,
) -> Result<String, ChannelError> {
    let from: Mailbox = settings.address.parse().map_err(|err| {
        ChannelError::fatal(format!("email: address {:?}: {err}", settings.address))
    })?;
    let recipient: Mailbox = to
        .parse()
        .map_err(|err| ChannelError::fatal(format!("email: recipient {to:?}: {err}")))?;
    let message_id = new_message_id(&settings.address)?;
    let mut builder = Message::builder()
        .from(from)
        .to(recipient)
        .subject(reply_subject(&headers.subject))
        .message_id(Some(format!("<{message_id}>")))
        .header(AutoSubmitted)
        .header(ContentType::TEXT_PLAIN);
    if !headers.in_reply_to.is_empty() {
        builder = builder.in_reply_to(format!("<{}>", headers.in_reply_to));
    }
    if !headers.references.is_empty() {
        let references: Vec<String> = headers
            .references
            .iter()
            .map(|id| format!("<{id}>"))
            .collect();
        builder = builder.references(references.join(" "));
    }
    let message = builder
        .body(body.to_string())
        .map_err(|err| ChannelError::fatal(format!("email: cannot build the mail: {err}")))?;
    let host = settings.smtp_host.clone();
    let tls = match settings.tls {
        EmailTls::None => Tls::None,
        EmailTls::Tls | EmailTls::StartTls => {
            let parameters = TlsParameters::new(host.clone())
                .map_err(|err| ChannelError::fatal(format!("smtp tls: {err}")))?;
            if settings.tls == EmailTls::Tls {
                Tls::Wrapper(parameters)
            } else {
                Tls::Required(parameters)
            }
        }
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(settings.smtp_port)
        .tls(tls)
        .credentials(Credentials::new(
            settings.username.clone(),
            settings.password.clone(),
        ))
        .timeout(Some(std::time::Duration::from_secs(60)))
        .build();
    match transport.send(message).await {
        Ok(_) => Ok(message_id),
        Err(err) if err.is_permanent() => Err(ChannelError::fatal(format!("smtp: {err}"))),
        Err(err) => Err(ChannelError::retryable(format!("smtp: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_subject_gets_one_re() {
        assert_eq!(reply_subject("hello"), "Re: hello");
        assert_eq!(reply_subject("RE: hello"), "RE: hello");
        assert_eq!(reply_subject(""), NEW_SUBJECT);
    }

    #[test]
    fn the_body_keeps_markup_as_text_and_drops_control_characters() {
        assert_eq!(
            plain_text("<b>x</b>\r\n\u{1b}[31m<script>"),
            "<b>x</b>\n[31m<script>"
        );
    }
}
