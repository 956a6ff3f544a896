//! The client-server API types Hearth reads from `/sync` (a subset of
//! <https://spec.matrix.org/latest/client-server-api/#get_matrixclientv3sync>), and how
//! one sync response becomes received items: text, files and images from others, and
//! invites (each an implicit `/start` from the inviter).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::channel::{Attachment, ChatRef, Incoming, Received};

#[derive(Debug, Default, Deserialize)]
pub struct SyncResponse {
    pub next_batch: String,
    #[serde(default)]
    pub rooms: Rooms,
}

#[derive(Debug, Default, Deserialize)]
pub struct Rooms {
    #[serde(default)]
    pub join: HashMap<String, JoinedRoom>,
    #[serde(default)]
    pub invite: HashMap<String, InvitedRoom>,
}

#[derive(Debug, Default, Deserialize)]
pub struct JoinedRoom {
    #[serde(default)]
    pub state: Events,
    #[serde(default)]
    pub timeline: Events,
}

#[derive(Debug, Default, Deserialize)]
pub struct InvitedRoom {
    #[serde(default)]
    pub invite_state: Events,
}

#[derive(Debug, Default, Deserialize)]
pub struct Events {
    #[serde(default)]
    pub events: Vec<Event>,
}

/// A room event; `content` is read field by field, so nothing a server sends fails the
/// whole sync.
#[derive(Debug, Default, Deserialize)]
pub struct Event {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub sender: String,
    #[serde(default)]
    pub event_id: String,
    pub state_key: Option<String>,
    #[serde(default)]
    pub content: Value,
}

/// What one sync said beyond its items: rooms the account is in, and rooms where
/// encryption is on or an encrypted message arrived.
#[derive(Debug, Default)]
pub struct SyncFindings {
    pub items: Vec<Received>,
    pub joined: Vec<String>,
    pub encrypted: Vec<String>,
    pub encrypted_message_in: Vec<String>,
}

/// Reads a sync response for account `me`. `with_messages` is false for the first sync
/// (no stored token): what was said before Hearth was connected is history, not asks.
pub fn findings(
    sync: SyncResponse,
    me: &str,
    cursor: Option<&str>,
    with_messages: bool,
) -> SyncFindings {
    let mut found = SyncFindings::default();
    let mut invites: Vec<(String, InvitedRoom)> = sync.rooms.invite.into_iter().collect();
    invites.sort_by(|a, b| a.0.cmp(&b.0));
    for (room, invited) in invites {
        let inviter = invited.invite_state.events.iter().find(|event| {
            event.kind == "m.room.member"
                && event.state_key.as_deref() == Some(me)
                && event.content["membership"] == "invite"
        });
        let Some(inviter) = inviter else { continue };
        if invited
            .invite_state
            .events
            .iter()
            .any(|event| event.kind == "m.room.encryption")
        {
            found.encrypted.push(room.clone());
        }
        found.items.push(Received {
            external_id: format!("invite:{room}:{}", cursor.unwrap_or("first")),
            sender: inviter.sender.clone(),
            to: ChatRef {
                chat: room.clone(),
                thread: String::new(),
            },
            incoming: Incoming::Message {
                text: "/start".into(),
                attachments: Vec::new(),
                sender_name: inviter.sender.clone(),
                message_ref: String::new(),
            },
        });
    }
    let mut joined: Vec<(String, JoinedRoom)> = sync.rooms.join.into_iter().collect();
    joined.sort_by(|a, b| a.0.cmp(&b.0));
    for (room, content) in joined {
        found.joined.push(room.clone());
        let events = content.state.events.iter().chain(&content.timeline.events);
        if events
            .clone()
            .any(|event| event.kind == "m.room.encryption")
        {
            found.encrypted.push(room.clone());
        }
        for event in content.timeline.events {
            if event.sender == me || !with_messages {
                continue;
            }
            if event.kind == "m.room.encrypted" {
                found.encrypted_message_in.push(room.clone());
                continue;
            }
            if let Some(item) = message(&room, event) {
                found.items.push(item);
            }
        }
    }
    found
}

/// An `m.room.message` Hearth answers: `m.text`, `m.file` or `m.image`; not notices
/// (other bots), emotes or edits.
fn message(room: &str, event: Event) -> Option<Received> {
    if event.kind != "m.room.message" || event.event_id.is_empty() {
        return None;
    }
    let content = &event.content;
    let relation = &content["m.relates_to"];
    if relation["rel_type"] == "m.replace" {
        return None;
    }
    let thread = if relation["rel_type"] == "m.thread" {
        relation["event_id"].as_str().unwrap_or("").to_string()
    } else {
        String::new()
    };
    let body = content["body"].as_str().unwrap_or("").to_string();
    let (text, attachments) = match content["msgtype"].as_str()? {
        "m.text" => (body, Vec::new()),
        "m.file" | "m.image" => {
            let handle = content["url"].as_str()?.to_string();
            let name = content["filename"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.clone());
            let attachment = Attachment {
                handle,
                name,
                size: content["info"]["size"].as_u64(),
            };
            (String::new(), vec![attachment])
        }
        _ => return None,
    };
    Some(Received {
        external_id: event.event_id.clone(),
        sender: event.sender.clone(),
        to: ChatRef {
            chat: room.to_string(),
            thread,
        },
        incoming: Incoming::Message {
            text,
            attachments,
            sender_name: event.sender,
            message_ref: event.event_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(value: Value) -> SyncResponse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn texts_files_and_invites_are_read_and_own_messages_skipped() {
        let response = sync(serde_json::json!({
            "next_batch": "s2",
            "rooms": {
                "join": { "!r:h": { "timeline": { "events": [
                    { "type": "m.room.message", "sender": "@me:h", "event_id": "$0",
                      "content": { "msgtype": "m.text", "body": "mine" } },
                    { "type": "m.room.message", "sender": "@a:h", "event_id": "$1",
                      "content": { "msgtype": "m.text", "body": "hi" } },
                    { "type": "m.room.message", "sender": "@a:h", "event_id": "$2",
                      "content": { "msgtype": "m.file", "body": "n.txt",
                                   "url": "mxc://h/abc", "info": { "size": 3 } } },
                    { "type": "m.room.message", "sender": "@a:h", "event_id": "$3",
                      "content": { "msgtype": "m.notice", "body": "bot" } },
                    { "type": "m.room.encrypted", "sender": "@a:h", "event_id": "$4",
                      "content": {} }
                ] } } },
                "invite": { "!i:h": { "invite_state": { "events": [
                    { "type": "m.room.member", "sender": "@a:h", "state_key": "@me:h",
                      "content": { "membership": "invite" } }
                ] } } }
            }
        }));
        let found = findings(response, "@me:h", Some("s1"), true);
        let ids: Vec<&str> = found
            .items
            .iter()
            .map(|item| item.external_id.as_str())
            .collect();
        assert_eq!(ids, vec!["invite:!i:h:s1", "$1", "$2"]);
        assert!(
            matches!(&found.items[0].incoming, Incoming::Message { text, .. } if text == "/start")
        );
        assert!(matches!(&found.items[2].incoming,
            Incoming::Message { attachments, .. } if attachments[0].handle == "mxc://h/abc"));
        assert_eq!(found.encrypted_message_in, vec!["!r:h".to_string()]);
        assert_eq!(found.joined, vec!["!r:h".to_string()]);
    }
}
