//! A received mail turned into what the router takes: the sender's address, the thread
//! (its root `Message-ID`), the new text (the quoted tail cut off) wrapped as untrusted
//! content, and the attachments; or nothing for mail not to answer (our own, automatic
//! replies and bounces, unauthenticated mail under `require_authenticated`).

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders};

use super::{auth, EmailSettings, ThreadHeaders};
use crate::channel::{Attachment, ChatRef, Incoming, Received};

/// The most text of one mail passed on; the rest is cut.
const MAX_TEXT_CHARS: usize = 100_000;
/// How many `References` a reply carries (the root and the latest).
const MAX_REFERENCES: usize = 10;

/// Where a mail is in the mailbox.
#[derive(Debug, Clone, Copy)]
pub(super) struct MailRef {
    pub uid_validity: u32,
    pub uid: u32,
    /// The whole mail's size when only its headers were fetched (it was too large).
    pub truncated_size: Option<u64>,
}

/// The mail as a received message, its thread and the headers a reply to it needs;
/// `None` (logged) for mail not to answer.
pub(super) fn parse_mail(
    raw: &[u8],
    mail: MailRef,
    settings: &EmailSettings,
) -> Option<(Received, String, ThreadHeaders)> {
    let uid = mail.uid;
    let Some(message) = MessageParser::default().parse(raw) else {
        tracing::info!("email: mail {uid} is not a readable message; ignored");
        return None;
    };
    let from = message.from().and_then(|from| from.first());
    let Some(sender) = from
        .and_then(|from| from.address())
        .map(|address| address.trim().to_ascii_lowercase())
        .filter(|address| address.contains('@'))
    else {
        tracing::info!("email: mail {uid} has no From address; ignored");
        return None;
    };
    if sender == settings.address.trim().to_ascii_lowercase() {
        return None;
    }
    if let Some(why) = automatic(&message, &sender) {
        tracing::info!("email: mail {uid} from {sender} is {why}; not answered");
        return None;
    }
    let domain = sender
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .unwrap_or("");
    if settings.require_authenticated
        && !auth::authenticated_for(message.headers_raw(), &settings.authserv_id, domain)
    {
        tracing::warn!(
            "email: mail {uid} claims to be from {sender}, but {} did not authenticate it \
             (Authentication-Results); ignored",
            settings.authserv_id
        );
        return None;
    }
    let message_id = message
        .message_id()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("{}.{uid}@imap.hearth.invalid", mail.uid_validity));
    let references = id_list(message.references());
    let in_reply_to = id_list(message.in_reply_to());
    let root = references
        .first()
        .or(in_reply_to.first())
        .unwrap_or(&message_id)
        .clone();
    let subject = clean_line(message.subject().unwrap_or(""));
    let display = match from.and_then(|from| from.name()).map(clean_line) {
        Some(name) if !name.is_empty() => format!("{name} <{sender}>"),
        _ => sender.clone(),
    };
    let body = match mail.truncated_size {
        Some(size) => format!(
            "[This mail is {size} bytes, over the limit of {} bytes: only its headers were read.]",
            settings.max_message_bytes
        ),
        None => message
            .body_text(0)
            .map(|body| body.into_owned())
            .unwrap_or_default(),
    };
    let fresh: String = strip_quoted(&body).chars().take(MAX_TEXT_CHARS).collect();
    let text = match command(&fresh) {
        Some(command) => command.to_string(),
        None => hearth_tools::wrap_untrusted(
            &format!("email:{sender}"),
            &format!("From: {display}\nSubject: {subject}\n\n{fresh}"),
        ),
    };
    let attachments = if mail.truncated_size.is_some() {
        Vec::new()
    } else {
        message
            .attachments()
            .enumerate()
            .map(|(index, part)| Attachment {
                handle: format!("{}:{uid}:{index}", mail.uid_validity),
                name: part
                    .attachment_name()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("attachment-{index}")),
                size: Some(part.contents().len() as u64),
            })
            .collect()
    };
    let mut thread_references = if references.is_empty() {
        in_reply_to
    } else {
        references
    };
    thread_references.push(message_id.clone());
    if thread_references.len() > MAX_REFERENCES {
        let cut = thread_references.len() - (MAX_REFERENCES - 1);
        thread_references.drain(1..cut);
    }
    let headers = ThreadHeaders {
        subject,
        in_reply_to: message_id.clone(),
        references: thread_references,
    };
    let received = Received {
        external_id: format!("<{message_id}>"),
        sender: sender.clone(),
        to: ChatRef {
            chat: sender,
            thread: root.clone(),
        },
        incoming: Incoming::Message {
            text,
            attachments,
            sender_name: display,
            message_ref: message_id,
        },
    };
    Some((received, root, headers))
}

/// Attachment `index` of a raw mail.
pub(super) fn attachment(raw: &[u8], index: u32) -> Option<Vec<u8>> {
    let message = MessageParser::default().parse(raw)?;
    let part = message.attachment(index)?;
    Some(part.contents().to_vec())
}

/// Why a mail is automatic (RFC 3834 `Auto-Submitted`, `Precedence`, a bounce), if it is:
/// answering those makes mail loops.
fn automatic(message: &Message<'_>, sender: &str) -> Option<&'static str> {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|value| value.trim().to_ascii_lowercase())
    };
    if header("Auto-Submitted").is_some_and(|value| !value.starts_with("no")) {
        return Some("automatic (Auto-Submitted)");
    }
    if header("Precedence").is_some_and(|value| matches!(value.as_str(), "bulk" | "junk" | "list"))
    {
        return Some("bulk mail (Precedence)");
    }
    let local = sender.split('@').next().unwrap_or("");
    if matches!(local, "mailer-daemon" | "postmaster") {
        return Some("a delivery report");
    }
    None
}

/// The message ids in `References` or `In-Reply-To`, without angle brackets.
fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    value
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|id| id.trim().trim_matches(['<', '>']).to_string())
        .filter(|id| !id.is_empty())
        .collect()
}

/// `text` on one line, without control characters.
fn clean_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The body without the quoted tail of a reply (`> ` lines at the end and the
/// "On … wrote:" line above them).
pub(super) fn strip_quoted(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut end = lines.len();
    while end > 0 {
        let line = lines[end - 1].trim();
        if line.is_empty() || line.starts_with('>') {
            end -= 1;
        } else {
            break;
        }
    }
    if end < lines.len() && end > 0 && lines[end - 1].trim_end().ends_with("wrote:") {
        end -= 1;
    }
    lines[..end].join("\n").trim().to_string()
}

/// A reply whose first line is `approve`, `deny`, `/new` or `/stop` is that command.
pub(super) fn command(fresh: &str) -> Option<&'static str> {
    let first = fresh.lines().map(str::trim).find(|line| !line.is_empty())?;
    match first
        .trim_end_matches(['.', '!'])
        .to_ascii_lowercase()
        .as_str()
    {
        "approve" => Some("approve"),
        "deny" => Some("deny"),
        "/new" => Some("/new"),
        "/stop" => Some("/stop"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quoted_tail_and_its_attribution_are_cut() {
        let body = "Yes, do it.\n\nOn Sat, 5 Dec 2026, Hearth wrote:\n> Shall I?\n>\n> more\n";
        assert_eq!(strip_quoted(body), "Yes, do it.");
        assert_eq!(strip_quoted("a\n> quoted\nb"), "a\n> quoted\nb");
    }

    #[test]
    fn the_first_line_is_a_command_only_when_it_is_the_whole_line() {
        assert_eq!(command("\n Approve.\n\nthanks"), Some("approve"));
        assert_eq!(command("deny"), Some("deny"));
        assert_eq!(command("approve the budget"), None);
        assert_eq!(command(""), None);
    }
}
