//! Matrix end to end: the real gateway in-process with its channels started, the
//! scripted model server, and a real Synapse (started once for this test binary by
//! `hearth_testkit::synapse`), over real sockets with a real SQLite store. People are
//! Synapse users driven through the client-server API.

use std::time::Duration;

use hearth_channels::{Channel, ChatRef, MatrixChannel, MatrixCredentials, MatrixSettings};
use hearth_runtime::Overrides;
use hearth_testkit::synapse::{password_of, synapse_absent, Synapse};
use hearth_testkit::Step;
use serde_json::{json, Value};

use crate::channel_gateway::{ChannelConfig, ChannelGateway};
use crate::common::{exec_then_answer, untrusted};

const WAIT: Duration = Duration::from_secs(30);

/// The shared Synapse and fresh users `[bot, owner, stranger]`, or `None` (skipped).
async fn server_and_users() -> Option<(&'static Synapse, Vec<String>)> {
    let found = tokio::task::spawn_blocking(|| {
        let synapse = Synapse::shared()?;
        let users = synapse.register(&["bot", "owner", "stranger"])?;
        Ok::<_, String>((synapse, users))
    })
    .await
    .unwrap();
    match found {
        Ok(found) => Some(found),
        Err(why) => {
            eprintln!("skipped: {}", synapse_absent(&why));
            None
        }
    }
}

/// A person on the homeserver, logged in.
struct Person {
    id: String,
    token: String,
    base: String,
    http: reqwest::Client,
}

impl Person {
    async fn login(base: &str, id: &str) -> Self {
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{base}/_matrix/client/v3/login"))
            .json(&json!({
                "type": "m.login.password",
                "identifier": { "type": "m.id.user", "user": id },
                "password": password_of(id),
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            id: id.to_string(),
            token: answer["access_token"]
                .as_str()
                .expect("a token")
                .to_string(),
            base: base.to_string(),
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}/_matrix/client/v3/{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {answer}");
        answer
    }

    /// A new private room with `invite` invited (and, when `encrypted`, encryption on).
    async fn create_room(&self, invite: &str, encrypted: bool) -> String {
        let mut body = json!({ "preset": "private_chat", "invite": [invite] });
        if encrypted {
            body["initial_state"] = json!([{
                "type": "m.room.encryption", "state_key": "",
                "content": { "algorithm": "m.megolm.v1.aes-sha2" }
            }]);
        }
        let answer = self.call(reqwest::Method::POST, "createRoom", body).await;
        answer["room_id"].as_str().unwrap().to_string()
    }

    async fn send(&self, room: &str, kind: &str, content: Value) -> String {
        static TXN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let txn = TXN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = format!("rooms/{}/send/{kind}/person-{txn}", encode(room));
        let answer = self.call(reqwest::Method::PUT, &path, content).await;
        answer["event_id"].as_str().unwrap().to_string()
    }

    async fn say(&self, room: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": text }),
        )
        .await
    }

    async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("join/{}", encode(room)),
            json!({}),
        )
        .await;
    }

    /// The `m.room.message` contents `sender` posted in `room`, oldest first.
    async fn messages_from(&self, room: &str, sender: &str) -> Vec<Value> {
        let response = self
            .http
            .get(format!(
                "{}/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000",
                self.base,
                encode(room)
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let answer: Value = response.json().await.unwrap();
        let mut contents: Vec<Value> = answer["chunk"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|event| event["type"] == "m.room.message" && event["sender"] == sender)
            .map(|event| event["content"].clone())
            .collect();
        contents.reverse();
        contents
    }

    /// Waits until `sender` posted at least `count` messages in `room`; their bodies.
    async fn wait_for(&self, room: &str, sender: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let contents = self.messages_from(room, sender).await;
            if contents.len() >= count {
                return contents;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} messages from {sender}, got {contents:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn bodies(contents: &[Value]) -> Vec<String> {
    contents
        .iter()
        .map(|content| content["body"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The gateway with `[channels.matrix]` as `bot`, `owner` allowed, over a home that
/// outlives restarts.
struct MatrixHarness {
    gateway: ChannelGateway,
    bot: String,
    owner: Person,
    stranger: Person,
}

impl MatrixHarness {
    async fn start(steps: Vec<Step>) -> Option<Self> {
        Self::start_with(steps, Overrides::default()).await
    }

    async fn start_with(steps: Vec<Step>, overrides: Overrides) -> Option<Self> {
        let (synapse, users) = server_and_users().await?;
        let (bot, owner, stranger) = (users[0].clone(), &users[1], &users[2]);
        let config = ChannelConfig {
            channel: "matrix",
            config_toml: format!(
                "[channels.matrix]\nhomeserver = \"{}\"\nuser = \"{bot}\"\n\
                 password = \"secret:matrix\"\nallowed_users = [\"{owner}\"]\n\
                 max_file_bytes = 1000\npoll_timeout_secs = 5\n",
                synapse.base_url()
            ),
            secret: ("matrix", &password_of(&bot)),
        };
        Some(Self {
            gateway: ChannelGateway::start(config, steps, overrides).await,
            owner: Person::login(synapse.base_url(), owner).await,
            stranger: Person::login(synapse.base_url(), stranger).await,
            bot,
        })
    }

    /// A room the owner made and invited the bot to, once the bot has greeted in it.
    async fn owner_room(&self) -> String {
        let room = self.owner.create_room(&self.bot, false).await;
        let greeting = self.owner.wait_for(&room, &self.bot, 1).await;
        assert!(bodies(&greeting)[0].starts_with("Hello."), "{greeting:?}");
        room
    }

    async fn stop(self) {
        self.gateway.stop().await;
    }
}

#[tokio::test]
async fn an_invite_from_the_owner_is_joined_and_a_message_answered_through_the_model() {
    let Some(harness) = MatrixHarness::start(vec![Step::text("hi from the model")]).await else {
        return;
    };
    let room = harness.owner_room().await;
    harness.owner.say(&room, "hello agent").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 2).await;
    assert_eq!(replies[1]["body"], "hi from the model");
    assert_eq!(replies[1]["msgtype"], "m.text");
    assert_eq!(replies[1]["format"], "org.matrix.custom.html");
    assert_eq!(replies[1]["formatted_body"], "hi from the model");
    assert_eq!(
        harness.gateway.model_inputs_first_lines(),
        vec!["hello agent"]
    );
    let store = harness.gateway.store();
    let inbox = store.channel_inbox("matrix").unwrap();
    assert_eq!(inbox.len(), 2, "the invite and the message");
    assert!(inbox.iter().all(|message| message.state == "answered"));
    // Its own replies came back through /sync and were not taken as messages.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.channel_inbox("matrix").unwrap().len(), 2);
    assert_eq!(store.channel_statuses().unwrap()[0].connection, "connected");
    harness.stop().await;
}

#[tokio::test]
async fn a_strangers_invite_gets_one_pairing_code_and_never_reaches_the_model_until_paired() {
    let Some(harness) = MatrixHarness::start(vec![Step::text("welcome aboard")]).await else {
        return;
    };
    let room = harness.stranger.create_room(&harness.bot, false).await;
    let replies = harness.stranger.wait_for(&room, &harness.bot, 1).await;
    let first = bodies(&replies)[0].clone();
    assert!(first.contains("hearth channels pair "), "{first}");
    let code = first
        .split("hearth channels pair ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    harness
        .stranger
        .say(&room, "the stranger's secret plan")
        .await;
    let store = harness.gateway.store();
    let deadline = tokio::time::Instant::now() + WAIT;
    while store
        .channel_inbox("matrix")
        .unwrap()
        .iter()
        .filter(|message| message.state == "refused")
        .count()
        < 2
    {
        assert!(tokio::time::Instant::now() < deadline, "not refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        harness
            .stranger
            .messages_from(&room, &harness.bot)
            .await
            .len(),
        1,
        "a second pairing code within the hour"
    );
    assert!(
        harness.gateway.model.requests().is_empty(),
        "a stranger reached the model"
    );

    let admitted = store
        .pair(&code, hearth_channels::unix_now())
        .unwrap()
        .expect("the code admits");
    assert_eq!(admitted.sender, harness.stranger.id);
    harness.stranger.say(&room, "now may I?").await;
    let replies = harness.stranger.wait_for(&room, &harness.bot, 2).await;
    assert_eq!(replies[1]["body"], "welcome aboard");
    let seen = harness.gateway.all_model_bytes();
    assert!(seen.contains("now may I?"));
    assert!(
        !seen.contains("secret plan"),
        "a stranger's words reached the model"
    );
    harness.stop().await;
}

#[tokio::test]
async fn model_markup_arrives_escaped_in_formatted_body_and_a_long_reply_is_split() {
    let paragraph = "lorem ipsum ".repeat(200);
    let long = [paragraph.trim(); 6].join("\n\n");
    let Some(harness) = MatrixHarness::start(vec![
        Step::text("<b>bold</b> & <script>alert(1)</script>"),
        Step::text(long.clone()),
    ])
    .await
    else {
        return;
    };
    let room = harness.owner_room().await;
    harness.owner.say(&room, "format please").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 2).await;
    assert_eq!(
        replies[1]["body"],
        "<b>bold</b> & <script>alert(1)</script>"
    );
    assert_eq!(
        replies[1]["formatted_body"],
        "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    );
    harness.owner.say(&room, "now a long one").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 5).await;
    let chunks = bodies(&replies[2..]);
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    for chunk in &chunks {
        assert!(chunk.encode_utf16().count() <= hearth_channels::matrix::MESSAGE_LIMIT);
        assert!(
            chunk.starts_with("lorem") && chunk.ends_with("ipsum"),
            "cut mid-paragraph"
        );
    }
    assert_eq!(chunks.join("\n\n"), long);
    harness.stop().await;
}

#[tokio::test]
async fn an_approval_is_answered_with_approve_in_the_room_by_an_admitted_sender_only() {
    let Some(harness) = MatrixHarness::start_with(
        exec_then_answer("touch approved.txt", "the file is there"),
        untrusted(),
    )
    .await
    else {
        return;
    };
    let room = harness.owner_room().await;
    // The stranger is in the room too.
    harness
        .owner
        .call(
            reqwest::Method::POST,
            &format!("rooms/{}/invite", encode(&room)),
            json!({ "user_id": harness.stranger.id }),
        )
        .await;
    harness.stranger.join(&room).await;
    harness.owner.say(&room, "make the file").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 2).await;
    let question = bodies(&replies)[1].clone();
    assert!(question.contains("touch approved.txt"), "{question}");
    assert!(question.contains("reply approve or deny"), "{question}");

    harness.stranger.say(&room, "approve").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 3).await;
    assert!(
        bodies(&replies)[2].contains("hearth channels pair"),
        "{replies:?}"
    );
    assert!(!harness
        .gateway
        .home
        .path()
        .join("workspace/approved.txt")
        .exists());

    harness.owner.say(&room, "approve").await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 5).await;
    let texts = bodies(&replies);
    assert!(texts.contains(&"Approved.".to_string()), "{texts:?}");
    assert_eq!(texts.last().unwrap(), "the file is there");
    assert!(harness
        .gateway
        .home
        .path()
        .join("workspace/approved.txt")
        .exists());
    harness.stop().await;
}

#[tokio::test]
async fn a_gateway_restart_mid_conversation_loses_and_repeats_nothing() {
    let Some(mut harness) = MatrixHarness::start(vec![
        Step::text("reply one"),
        Step::text("reply two"),
        Step::text("reply three"),
    ])
    .await
    else {
        return;
    };
    let room = harness.owner_room().await;
    harness.owner.say(&room, "message one").await;
    harness.owner.wait_for(&room, &harness.bot, 2).await;

    // The gateway goes away; two messages arrive meanwhile; a new gateway on the same
    // home resumes from the stored sync token.
    harness.gateway.stop_gateway().await;
    harness.owner.say(&room, "message two").await;
    harness.owner.say(&room, "message three").await;
    harness.gateway.start_gateway().await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let replies_after = harness.owner.messages_from(&room, &harness.bot).await;
    assert_eq!(replies.len(), replies_after.len(), "{replies_after:?}");
    assert_eq!(
        bodies(&replies_after)[1..],
        ["reply one", "reply two", "reply three"]
    );
    assert_eq!(
        harness.gateway.model_inputs_first_lines(),
        vec!["message one", "message two", "message three"]
    );
    let inbox = harness.gateway.store().channel_inbox("matrix").unwrap();
    assert_eq!(inbox.len(), 4, "the invite and three messages");
    assert!(inbox.iter().all(|message| message.state == "answered"));
    harness.stop().await;
}

#[tokio::test]
async fn a_queued_reply_sent_twice_is_posted_once() {
    let Some(harness) = MatrixHarness::start(vec![]).await else {
        return;
    };
    let room = harness.owner_room().await;
    // A second client of the same account, as a gateway after a restart would be.
    let settings = MatrixSettings::new(
        harness.owner.base.clone(),
        harness.bot.clone(),
        MatrixCredentials::Password(password_of(&harness.bot)),
    );
    let channel = MatrixChannel::new(settings).unwrap();
    let to = ChatRef {
        chat: room.clone(),
        thread: String::new(),
    };
    let first = channel.send_queued(&to, "only once", 9001).await.unwrap();
    let again = channel.send_queued(&to, "only once", 9001).await.unwrap();
    assert_eq!(first.message_ref, again.message_ref);
    let posted = bodies(&harness.owner.messages_from(&room, &harness.bot).await);
    assert_eq!(posted.iter().filter(|body| *body == "only once").count(), 1);
    harness.stop().await;
}

#[tokio::test]
async fn an_encrypted_room_gets_one_notice_and_files_are_saved_to_the_inbox() {
    let Some(harness) = MatrixHarness::start(vec![Step::text("got your notes")]).await else {
        return;
    };
    let encrypted = harness.owner.create_room(&harness.bot, true).await;
    let replies = harness.owner.wait_for(&encrypted, &harness.bot, 2).await;
    let notices: Vec<&Value> = replies
        .iter()
        .filter(|content| content["msgtype"] == "m.notice")
        .collect();
    assert_eq!(notices.len(), 1, "{replies:?}");
    assert!(notices[0]["body"]
        .as_str()
        .unwrap()
        .contains("cannot read encrypted rooms"));
    harness
        .owner
        .send(
            &encrypted,
            "m.room.encrypted",
            json!({ "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "x",
                    "sender_key": "k", "session_id": "s", "device_id": "D" }),
        )
        .await;

    let room = harness.owner_room().await;
    let upload = |name: &str, bytes: Vec<u8>| {
        let request = harness
            .owner
            .http
            .post(format!(
                "{}/_matrix/media/v3/upload?filename={name}",
                harness.owner.base
            ))
            .bearer_auth(&harness.owner.token)
            .header("content-type", "application/octet-stream")
            .body(bytes);
        async move {
            let answer: Value = request.send().await.unwrap().json().await.unwrap();
            answer["content_uri"].as_str().unwrap().to_string()
        }
    };
    let big = upload("huge.bin", vec![0u8; 5000]).await;
    harness
        .owner
        .send(
            &room,
            "m.room.message",
            json!({ "msgtype": "m.file", "body": "huge.bin", "url": big,
                    "info": { "size": 5000 } }),
        )
        .await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 2).await;
    assert!(
        bodies(&replies)[1].contains("the limit is 1000 bytes"),
        "{replies:?}"
    );
    let notes = upload("notes.txt", b"remember the milk".to_vec()).await;
    harness
        .owner
        .send(
            &room,
            "m.room.message",
            json!({ "msgtype": "m.file", "body": "../notes.txt", "url": notes }),
        )
        .await;
    let replies = harness.owner.wait_for(&room, &harness.bot, 3).await;
    assert_eq!(replies[2]["body"], "got your notes");
    let inbox = harness.gateway.home.path().join("workspace/inbox");
    let saved: Vec<String> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(saved[0].ends_with("-_notes.txt"), "{saved:?}");
    assert_eq!(
        std::fs::read(inbox.join(&saved[0])).unwrap(),
        b"remember the milk"
    );
    // Still one notice in the encrypted room, after an encrypted message.
    let replies = harness.owner.messages_from(&encrypted, &harness.bot).await;
    assert_eq!(
        replies
            .iter()
            .filter(|content| content["msgtype"] == "m.notice")
            .count(),
        1
    );
    harness.stop().await;
}
