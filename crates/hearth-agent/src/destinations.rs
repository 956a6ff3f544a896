//! Where a call sends something: its destination arguments, and whether the person
//! named every destination value in this turn's message. The injection policy
//! (`crate::injection_policy`) lets a guarded tool through when they did, as it lets
//! `web_fetch` reach a host the person named.
//!
//! Which arguments are destinations: the ones `[security.destinations]` lists for the
//! tool; otherwise (inferred, for MCP tools) every top-level argument named like a
//! destination ([`DESTINATION_ARGUMENTS`]: `to`, `cc`, `bcc`, `recipient(s)`, `url(s)`,
//! `iban`, `account`) and every argument whose values all look like an address (an
//! e-mail address, a URL, an IBAN), whatever its name. A value is named when the person's
//! message holds it as a whole word (case-insensitive), or, for a URL or bare host, when
//! the person named its host or `[network] allow` lists it.
//!
//! Limits: inference trusts argument names and the shape of values. A tool that sends
//! to a destination under another name and in another shape (`"target": "Alice"`)
//! passes as if that argument were content: configure `[security.destinations]` for it,
//! or leave it guarded with `guarded_tools`. Content arguments (a message's body) are
//! not judged: what goes to a named destination may carry what the turn read.

use hearth_tools::{fetch_target, hosts_named_in, EgressAllowList};
use serde_json::Value;

use crate::taint::TurnTaint;

/// Argument names taken for destinations when `[security.destinations]` says nothing
/// about a tool (compared case-insensitively): who or where a call reaches (a mail's
/// recipients, an event's participants, a chat's channel, the user a call invites or
/// adds, a payment's account, a URL).
pub const DESTINATION_ARGUMENTS: [&str; 19] = [
    "to",
    "cc",
    "bcc",
    "recipient",
    "recipients",
    "participants",
    "attendees",
    "invitees",
    "email",
    "emails",
    "channel",
    "channels",
    "user",
    "users",
    "url",
    "urls",
    "iban",
    "account",
    "accounts",
];

/// Argument names whose whole value is an address a call contacts, whatever its shape.
const LINK_ARGUMENTS: [&str; 5] = ["url", "urls", "uri", "host", "endpoint"];

/// What a call's destinations came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationCheck {
    /// Every destination value was named by the person (or allowed), and there was one.
    AllNamed,
    /// The call has no destination value to judge.
    NoDestination,
    /// These values (`argument: value`) were not named.
    Unnamed(Vec<String>),
}

/// Judges the destinations of a call with `arguments`: those in `configured` when given,
/// else the inferred ones (see the module's rule).
pub fn check_destinations(
    taint: &TurnTaint,
    allow: &EgressAllowList,
    arguments: &Value,
    configured: Option<&[String]>,
) -> DestinationCheck {
    let Some(object) = arguments.as_object() else {
        return DestinationCheck::NoDestination;
    };
    let mut judged = 0;
    let mut unnamed = Vec::new();
    for (name, value) in object {
        let is_destination = match configured {
            Some(names) => names.iter().any(|n| n == name),
            None => {
                DESTINATION_ARGUMENTS.contains(&name.to_ascii_lowercase().as_str())
                    || looks_like_addresses(value)
            }
        };
        if !is_destination {
            continue;
        }
        for item in values_of(value) {
            match item {
                Some(text) if text.trim().is_empty() => {}
                Some(text) => {
                    judged += 1;
                    if !is_named(taint, allow, &text) {
                        unnamed.push(format!("{name}: {text}"));
                    }
                }
                None => {
                    judged += 1;
                    unnamed.push(format!("{name}: {value}"));
                }
            }
        }
    }
    if !unnamed.is_empty() {
        DestinationCheck::Unnamed(unnamed)
    } else if judged == 0 {
        DestinationCheck::NoDestination
    } else {
        DestinationCheck::AllNamed
    }
}

/// The links in a call's arguments whose host the person did not name (and `[network]
/// allow` does not list): every value of an argument named like an address
/// ([`LINK_ARGUMENTS`]) and, in every string at any depth, each word that is a link
/// (`scheme://...` or `www....`). A link is where the reader's client (or the tool
/// itself) goes, carrying whatever the URL holds: the injection policy judges it like
/// `web_fetch`'s URL. A file name (`notes.txt`) is not a link.
pub fn unnamed_links(taint: &TurnTaint, allow: &EgressAllowList, arguments: &Value) -> Vec<String> {
    let mut links = Vec::new();
    collect_links(None, arguments, &mut links);
    let mut unnamed: Vec<String> = Vec::new();
    for link in links {
        if !is_named(taint, allow, &link) && !unnamed.contains(&link) {
            unnamed.push(link);
        }
    }
    unnamed
}

/// Collects into `links` the links in `value`, the value of argument `name` (if any).
fn collect_links(name: Option<&str>, value: &Value, links: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            let whole =
                name.is_some_and(|n| LINK_ARGUMENTS.contains(&n.to_ascii_lowercase().as_str()));
            if whole && !text.trim().is_empty() {
                links.push(text.trim().to_string());
                return;
            }
            let separators = |c: char| c.is_whitespace() || "\"'`<>()[]{},;|\\".contains(c);
            for word in text.split(separators) {
                let word = word.trim_end_matches(|c: char| ".:!?*".contains(c));
                let lower = word.to_ascii_lowercase();
                if lower.contains("://") || lower.starts_with("www.") {
                    links.push(word.to_string());
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_links(name, item, links);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                collect_links(Some(key), item, links);
            }
        }
        _ => {}
    }
}

/// The values of one argument as text: a string or number, or each item of an array
/// of them; `None` for a value that cannot be judged (an object, a nested array).
fn values_of(value: &Value) -> Vec<Option<String>> {
    let one = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

/// Whether every value of `value` is one address-shaped string (and there is one).
fn looks_like_addresses(value: &Value) -> bool {
    let texts: Vec<&str> = match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => return false,
    };
    !texts.is_empty() && texts.iter().all(|text| is_address(text))
}

/// An e-mail address, a URL, or an IBAN: one token, nothing else.
fn is_address(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() || text.contains(char::is_whitespace) {
        return false;
    }
    let email = text
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    let url = text.contains("://") || hosts_named_in(text).len() == 1 && text.contains('.');
    email || url || is_iban(text)
}

/// Two letters, two digits, then 10 to 30 letters and digits.
fn is_iban(text: &str) -> bool {
    let bytes = text.as_bytes();
    (14..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..].iter().all(u8::is_ascii_alphanumeric)
}

/// Whether the person named `value`: a URL or bare host by its host (or the allow-list
/// lists it), anything else as a whole word of their message.
fn is_named(taint: &TurnTaint, allow: &EgressAllowList, value: &str) -> bool {
    let value = value.trim();
    if !value.contains('@') || value.contains("://") {
        if let Some((host, port)) = host_of(value) {
            return taint.names_host(&host) || allow.permitting(&host, port).is_some();
        }
    }
    taint.names_recipient(value)
}

/// The host (and port) of a URL, or of a bare `host/path` with no spaces.
fn host_of(value: &str) -> Option<(String, u16)> {
    if value.contains("://") {
        return fetch_target(value);
    }
    if value.contains(char::is_whitespace) {
        return None;
    }
    let hosts = hosts_named_in(value);
    match hosts.as_slice() {
        [host] => Some((host.clone(), 443)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taint::TaintSource;
    use serde_json::json;

    fn taint(person: &str) -> TurnTaint {
        let mut taint = TurnTaint::new(person);
        taint.record(TaintSource {
            origin: "mail__read".into(),
            call_id: "c1".into(),
        });
        taint
    }

    #[test]
    fn inferred_destinations_must_all_be_named() {
        let person = taint("Send the summary to alice@example.org and post it on www.team.example/notes; pay DE12345678901234567890");
        let allow = EgressAllowList::parse(["docs.example.net"]).unwrap();
        let check = |args: Value| check_destinations(&person, &allow, &args, None);
        assert_eq!(
            check(json!({"recipients": ["alice@example.org"], "body": "eve@evil.example wrote"})),
            DestinationCheck::AllNamed
        );
        assert_eq!(
            check(json!({"recipients": ["alice@example.org"], "bcc": ["eve@evil.example"]})),
            DestinationCheck::Unnamed(vec!["bcc: eve@evil.example".into()])
        );
        // An address-shaped value under any name is a destination too.
        assert_eq!(
            check(json!({"to": "Alice@Example.org", "forward": "eve@evil.example"})),
            DestinationCheck::Unnamed(vec!["forward: eve@evil.example".into()])
        );
        assert_eq!(
            check(json!({"url": "https://www.team.example/other"})),
            DestinationCheck::AllNamed
        );
        assert_eq!(
            check(json!({"url": "docs.example.net/page"})),
            DestinationCheck::AllNamed
        );
        assert!(matches!(
            check(json!({"url": "www.evil.example/x"})),
            DestinationCheck::Unnamed(_)
        ));
        assert_eq!(
            check(json!({"recipient": "DE12345678901234567890", "amount": 10})),
            DestinationCheck::AllNamed
        );
        assert!(matches!(
            check(json!({"recipient": "US133000000121212121212", "amount": 10})),
            DestinationCheck::Unnamed(_)
        ));
        assert_eq!(
            check(json!({"file_id": "13", "content": "x"})),
            DestinationCheck::NoDestination
        );
        assert_eq!(check(json!({"to": []})), DestinationCheck::NoDestination);
        assert!(matches!(
            check(json!({"to": {"email": "alice@example.org"}})),
            DestinationCheck::Unnamed(_)
        ));
    }

    #[test]
    fn links_are_judged_by_their_host_and_file_names_are_not_links() {
        let person = taint("Summarise www.informations.com and tell Alice");
        let allow = EgressAllowList::parse(["*.wikipedia.org"]).unwrap();
        let links = |args: Value| unnamed_links(&person, &allow, &args);
        assert_eq!(
            links(json!({"recipient": "Alice", "body": "Read www.secure-systems-252.com now."})),
            ["www.secure-systems-252.com"]
        );
        assert_eq!(
            links(json!({"body": {"parts": ["see https://evil.example/?d=1", "ok"]}})),
            ["https://evil.example/?d=1"]
        );
        assert!(links(json!({"body": "From https://www.informations.com/a and en.wikipedia.org", "file": "notes.txt"})).is_empty());
        assert!(links(json!({"url": "https://de.wikipedia.org/x"})).is_empty());
        assert_eq!(links(json!({"url": "evil.example"})), ["evil.example"]);
    }

    #[test]
    fn configured_destinations_replace_the_inferred_ones() {
        let person = taint("Invite Bob to the channel");
        let allow = EgressAllowList::default();
        let names = ["user".to_string()];
        let check = |args: Value| check_destinations(&person, &allow, &args, Some(&names));
        assert_eq!(
            check(json!({"user": "bob", "note": "eve@evil.example"})),
            DestinationCheck::AllNamed
        );
        assert!(matches!(
            check(json!({"user": "Eve"})),
            DestinationCheck::Unnamed(_)
        ));
        assert_eq!(check(json!({"note": "x"})), DestinationCheck::NoDestination);
    }
}
