//! Telegram end to end: the real gateway in-process with its channels started, the
//! scripted model server and the testkit's scripted Telegram Bot API server (no
//! Telegram server can run here), over real sockets with a real SQLite store.

use std::time::Duration;

use hearth_runtime::Overrides;
use hearth_testkit::{Step, TelegramRequest, TelegramServer};
use serde_json::Value;

use crate::channel_gateway::{ChannelConfig, ChannelGateway};
use crate::common::{exec_then_answer, untrusted};

const BOT_TOKEN: &str = "123456:test-bot-token";
pub(crate) const OWNER: i64 = 7;
const CHAT: i64 = 42;
pub(crate) const STRANGER: i64 = 99;
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// The gateway with `[channels.telegram]` against the scripted Bot API server, `OWNER`
/// allowed.
pub(crate) struct TelegramHarness {
    pub(crate) gateway: ChannelGateway,
    pub(crate) telegram: TelegramServer,
}

impl TelegramHarness {
    pub(crate) async fn start(steps: Vec<Step>) -> Self {
        Self::start_with(steps, Overrides::default()).await
    }

    async fn start_with(steps: Vec<Step>, overrides: Overrides) -> Self {
        let telegram = TelegramServer::start(BOT_TOKEN).await.unwrap();
        let config = ChannelConfig {
            channel: "telegram",
            config_toml: format!(
                "[channels.telegram]\ntoken = \"secret:telegram\"\napi_base = \"{}\"\n\
                 allowed_users = [{OWNER}]\nmax_file_bytes = 1000\npoll_timeout_secs = 5\n",
                telegram.api_base()
            ),
            secret: ("telegram", BOT_TOKEN),
        };
        let gateway = ChannelGateway::start(config, steps, overrides).await;
        Self { gateway, telegram }
    }

    /// Waits until `count` messages were sent to `chat`; returns the texts sent there.
    pub(crate) async fn replies(&self, chat: i64, count: usize) -> Vec<String> {
        let requests = self
            .telegram
            .wait_for(WAIT, |requests| texts_to(requests, chat).len() >= count)
            .await;
        let texts = texts_to(&requests, chat);
        assert!(
            texts.len() >= count,
            "expected {count} replies, got {texts:?}"
        );
        texts
    }

    pub(crate) async fn stop(self) {
        self.gateway.stop().await;
    }
}

/// Waits (bounded) until `ready` holds, checking every 20 ms.
async fn until(ready: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The texts of the successful `sendMessage` calls to `chat`, in order.
pub(crate) fn texts_to(requests: &[TelegramRequest], chat: i64) -> Vec<String> {
    requests
        .iter()
        .filter(|request| request.method == "sendMessage")
        .filter(|request| request.body.get("message_id").is_some())
        .filter(|request| request.body["chat_id"] == Value::String(chat.to_string()))
        .filter_map(|request| request.body["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn an_allowed_message_is_answered_through_the_model_with_typing() {
    let harness = TelegramHarness::start(vec![Step::text("hi from the model")]).await;
    let update = harness.telegram.user_says(OWNER, CHAT, "hello agent");
    let replies = harness.replies(CHAT, 1).await;
    assert_eq!(replies, vec!["hi from the model"]);
    let requests = harness.telegram.requests();
    let reply = requests
        .iter()
        .find(|request| request.method == "sendMessage")
        .unwrap();
    assert_eq!(reply.body["parse_mode"], "HTML");
    assert!(requests
        .iter()
        .any(|request| request.method == "sendChatAction" && request.body["action"] == "typing"));
    assert!(harness.gateway.model_inputs()[0].starts_with("hello agent"));
    // The update is acknowledged (the next offset) once it is stored.
    let acknowledged = harness
        .telegram
        .wait_for(WAIT, |requests| {
            requests.iter().any(|request| {
                request.method == "getUpdates" && request.body["offset"] == update + 1
            })
        })
        .await;
    assert!(acknowledged
        .iter()
        .any(|request| request.body["offset"] == update + 1));
    let store = harness.gateway.store();
    let inbox = store.channel_inbox("telegram").unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].state, "answered");
    harness.stop().await;
}

#[tokio::test]
async fn a_stranger_gets_one_pairing_code_and_is_answered_once_paired() {
    let harness = TelegramHarness::start(vec![Step::text("welcome aboard")]).await;
    harness
        .telegram
        .user_says(STRANGER, STRANGER, "the stranger's secret plan");
    let replies = harness.replies(STRANGER, 1).await;
    assert!(
        replies[0].contains("hearth channels pair "),
        "{}",
        replies[0]
    );
    let code = replies[0]
        .split("hearth channels pair ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // A second message within the hour: no second code.
    harness.telegram.user_says(STRANGER, STRANGER, "hello??");
    let store = harness.gateway.store();
    harness
        .telegram
        .wait_for(WAIT, |_| {
            store
                .channel_inbox("telegram")
                .unwrap()
                .iter()
                .filter(|message| message.state == "refused")
                .count()
                == 2
        })
        .await;
    assert_eq!(texts_to(&harness.telegram.requests(), STRANGER).len(), 1);
    assert!(
        harness.gateway.model.requests().is_empty(),
        "a stranger reached the model"
    );

    let admitted = store
        .pair(&code.to_lowercase(), hearth_channels::unix_now())
        .unwrap()
        .unwrap();
    assert_eq!(admitted.sender, STRANGER.to_string());
    harness.telegram.user_says(STRANGER, STRANGER, "now may I?");
    let replies = harness.replies(STRANGER, 2).await;
    assert_eq!(replies[1], "welcome aboard");
    let seen = harness.gateway.all_model_bytes();
    assert!(seen.contains("now may I?"));
    assert!(
        !seen.contains("secret plan"),
        "a stranger's words reached the model"
    );
    assert!(!seen.contains("hello??"));
    harness.stop().await;
}

#[tokio::test]
async fn model_markup_arrives_escaped_and_a_long_reply_is_split_at_paragraphs() {
    let paragraph = "lorem ipsum ".repeat(150);
    let long = [paragraph.trim(); 6].join("\n\n");
    let harness = TelegramHarness::start(vec![
        Step::text("<b>bold</b> & <script>alert(1)</script>"),
        Step::text(long.clone()),
    ])
    .await;
    harness.telegram.user_says(OWNER, CHAT, "format please");
    let replies = harness.replies(CHAT, 1).await;
    assert_eq!(
        replies[0],
        "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    );
    harness.telegram.user_says(OWNER, CHAT, "now a long one");
    let replies = harness.replies(CHAT, 4).await;
    let chunks = &replies[1..];
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    for chunk in chunks {
        assert!(chunk.encode_utf16().count() <= 4096);
        assert!(
            chunk.starts_with("lorem") && chunk.ends_with("ipsum"),
            "cut mid-paragraph"
        );
    }
    assert_eq!(chunks.join("\n\n"), long);
    harness.stop().await;
}

#[tokio::test]
async fn an_approval_is_answered_with_an_inline_button_by_an_admitted_sender_only() {
    let harness = TelegramHarness::start_with(
        exec_then_answer("touch approved.txt", "the file is there"),
        untrusted(),
    )
    .await;
    harness.telegram.user_says(OWNER, CHAT, "make the file");
    let requests = harness
        .telegram
        .wait_for(WAIT, |requests| {
            requests
                .iter()
                .any(|request| request.body.get("reply_markup").is_some())
        })
        .await;
    let question = requests
        .iter()
        .find(|request| request.body.get("reply_markup").is_some())
        .expect("an approval question with buttons");
    assert!(question.body["text"]
        .as_str()
        .unwrap()
        .contains("touch approved.txt"));
    let buttons = &question.body["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["text"], "Approve");
    let approve = buttons[0]["callback_data"].as_str().unwrap().to_string();
    let message_id = question.body["message_id"].as_i64().unwrap();

    // A stranger's press does nothing but tell them so.
    harness
        .telegram
        .user_presses(STRANGER, CHAT, message_id, &approve);
    let requests = harness
        .telegram
        .wait_for(WAIT, |requests| {
            requests
                .iter()
                .any(|request| request.method == "answerCallbackQuery")
        })
        .await;
    let refusal = requests
        .iter()
        .find(|request| request.method == "answerCallbackQuery")
        .unwrap();
    assert!(refusal.body["text"]
        .as_str()
        .unwrap()
        .contains("Only an admitted"));
    assert!(!harness
        .gateway
        .home
        .path()
        .join("workspace/approved.txt")
        .exists());

    harness
        .telegram
        .user_presses(OWNER, CHAT, message_id, &approve);
    let replies = harness.replies(CHAT, 2).await;
    assert_eq!(replies.last().unwrap(), "the file is there");
    assert!(harness
        .gateway
        .home
        .path()
        .join("workspace/approved.txt")
        .exists());
    let requests = harness.telegram.requests();
    assert!(requests
        .iter()
        .any(|request| request.method == "editMessageReplyMarkup"
            && request.body["message_id"] == message_id));
    harness.stop().await;
}

#[tokio::test]
async fn restarts_of_the_bot_api_server_and_of_the_gateway_lose_and_repeat_nothing() {
    let mut harness = TelegramHarness::start(vec![
        Step::text("reply one"),
        Step::text("reply two"),
        Step::text("reply three"),
    ])
    .await;
    harness.telegram.user_says(OWNER, CHAT, "message one");
    harness.replies(CHAT, 1).await;

    // The Bot API server goes away; a message waits there; it comes back.
    harness.telegram.stop();
    harness.telegram.user_says(OWNER, CHAT, "message two");
    let store = harness.gateway.store();
    until(|| store.channel_statuses().unwrap()[0].connection == "reconnecting").await;
    harness.telegram.restart().await.unwrap();
    harness.replies(CHAT, 2).await;

    // The gateway goes away; a message arrives meanwhile; a new gateway on the same
    // home resumes from the stored offset.
    harness.gateway.stop_gateway().await;
    harness.telegram.user_says(OWNER, CHAT, "message three");
    harness.gateway.start_gateway().await;
    let replies = harness.replies(CHAT, 3).await;
    assert_eq!(replies, vec!["reply one", "reply two", "reply three"]);
    assert_eq!(
        harness.gateway.model_inputs_first_lines(),
        vec!["message one", "message two", "message three"]
    );
    let inbox = harness.gateway.store().channel_inbox("telegram").unwrap();
    assert_eq!(inbox.len(), 3);
    assert!(inbox.iter().all(|message| message.state == "answered"));
    harness.stop().await;
}

#[tokio::test]
async fn documents_are_saved_to_the_inbox_and_too_large_ones_answered_with_the_limit() {
    let harness = TelegramHarness::start(vec![Step::text("got your notes")]).await;
    harness
        .telegram
        .user_sends_document(OWNER, CHAT, "huge.bin", &[0u8; 5000]);
    let replies = harness.replies(CHAT, 1).await;
    assert!(
        replies[0].contains("the limit is 1000 bytes"),
        "{}",
        replies[0]
    );
    harness
        .telegram
        .user_sends_document(OWNER, CHAT, "../notes.txt", b"remember the milk");
    harness.replies(CHAT, 2).await;
    let inbox = harness.gateway.home.path().join("workspace/inbox");
    let saved: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
    assert!(saved[0].ends_with("-_notes.txt"), "{saved:?}");
    assert_eq!(
        std::fs::read(inbox.join(&saved[0])).unwrap(),
        b"remember the milk"
    );
    assert!(harness
        .gateway
        .all_model_bytes()
        .contains(&format!("inbox/{}", saved[0])));
    harness.stop().await;
}

#[tokio::test]
async fn a_reply_that_fails_to_send_is_retried_and_recorded() {
    let harness = TelegramHarness::start(vec![Step::text("eventually")]).await;
    harness.telegram.fail_next("sendMessage", 2, 502);
    harness.telegram.user_says(OWNER, CHAT, "are you there");
    let replies = harness.replies(CHAT, 1).await;
    assert_eq!(replies, vec!["eventually"]);
    let store = harness.gateway.store();
    until(|| store.channel_outbox("telegram").unwrap()[0].status == "sent").await;
    let outbox = store.channel_outbox("telegram").unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].status, "sent");
    assert_eq!(outbox[0].attempts, 3);
    harness.stop().await;
}

#[tokio::test]
async fn channel_send_reaches_only_admitted_chats_and_asks_first_answered_by_a_reply() {
    let call = |id: &str, to: &str, text: &str| {
        let arguments =
            serde_json::json!({ "channel": "telegram", "to": to, "text": text }).to_string();
        Step::tool_call(id, "channel_send", arguments)
    };
    let harness = TelegramHarness::start(vec![
        call("call_1", &STRANGER.to_string(), "hello stranger"),
        call(
            "call_2",
            &OWNER.to_string(),
            "<i>reminder</i>: water the plants",
        ),
        Step::text("sent it"),
    ])
    .await;
    harness
        .telegram
        .user_says(OWNER, CHAT, "remind me in my own chat");
    let requests = harness
        .telegram
        .wait_for(WAIT, |requests| {
            requests
                .iter()
                .any(|request| request.body.get("reply_markup").is_some())
        })
        .await;
    let question = requests
        .iter()
        .find(|request| request.body.get("reply_markup").is_some())
        .unwrap();
    assert_eq!(question.body["chat_id"], CHAT.to_string());
    assert!(question.body["text"]
        .as_str()
        .unwrap()
        .contains("channel_send to telegram:7"));
    // A reply of "approve" answers it, as in channels without buttons.
    harness.telegram.user_says(OWNER, CHAT, "approve");
    let replies = harness.replies(CHAT, 3).await;
    assert_eq!(replies.last().unwrap(), "sent it");
    let requests = harness.telegram.requests();
    assert_eq!(
        texts_to(&requests, OWNER),
        vec!["&lt;i&gt;reminder&lt;/i&gt;: water the plants"]
    );
    assert!(texts_to(&requests, STRANGER).is_empty());
    let results = harness.gateway.all_model_bytes();
    assert!(results.contains("not a chat of anyone allowed"));
    assert!(results.contains("sent to telegram:7"));
    harness.stop().await;
}

#[tokio::test]
async fn stop_cancels_the_running_turn_and_new_starts_a_fresh_session() {
    let harness = TelegramHarness::start(vec![Step::hang(), Step::text("fresh answer")]).await;
    harness.telegram.user_says(OWNER, CHAT, "think forever");
    let store = harness.gateway.store();
    // The turn is running once its model request (which never gets an answer) is in.
    until(|| !harness.gateway.model.requests().is_empty()).await;
    assert_eq!(harness.gateway.model.requests().len(), 1);
    let first_session = store
        .channel_session("telegram", &CHAT.to_string(), "")
        .unwrap();
    harness.telegram.user_says(OWNER, CHAT, "/stop");
    let replies = harness.replies(CHAT, 1).await;
    assert_eq!(replies[0], "Stopped.");
    harness.telegram.user_says(OWNER, CHAT, "/new");
    let replies = harness.replies(CHAT, 2).await;
    assert_eq!(replies.last().unwrap(), "Started a new session.");
    let second_session = store
        .channel_session("telegram", &CHAT.to_string(), "")
        .unwrap();
    assert!(first_session.is_some() && second_session.is_some());
    assert_ne!(first_session, second_session);
    harness.telegram.user_says(OWNER, CHAT, "hello again");
    let replies = harness.replies(CHAT, 3).await;
    assert_eq!(replies.last().unwrap(), "fresh answer");
    // The new session's request carries only the new message.
    let last = harness
        .gateway
        .model
        .requests()
        .last()
        .unwrap()
        .body
        .to_string();
    assert!(last.contains("hello again") && !last.contains("think forever"));
    harness.stop().await;
}
