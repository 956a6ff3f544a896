//! `hearth serve` with `[channels.telegram]` against the testkit's scripted Telegram Bot
//! API server, and `hearth channels pair|status`: a stranger is sent a pairing code and
//! never reaches the model; `hearth channels pair CODE` admits them; then they are answered.

use std::time::Duration;

use hearth_testkit::{Step, TelegramRequest, TelegramServer};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{stderr, stdout, TestEnv, ALL_FLAVORS};

const BOT_TOKEN: &str = "987654:binary-test-token";
const STRANGER: i64 = 99;

fn texts_to(requests: &[TelegramRequest], chat: i64) -> Vec<String> {
    requests
        .iter()
        .filter(|request| request.method == "sendMessage")
        .filter(|request| request.body.get("message_id").is_some())
        .filter(|request| request.body["chat_id"] == Value::String(chat.to_string()))
        .filter_map(|request| request.body["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_stranger_is_paired_with_hearth_channels_pair_and_then_answered() {
    let env = TestEnv::start(vec![Step::text("paired and answered")]).await;
    let telegram = TelegramServer::start(BOT_TOKEN).await.unwrap();
    env.write_config(&format!(
        "[channels.telegram]\ntoken = \"secret:telegram\"\napi_base = \"{}\"\n\
         allowed_users = [7]\npoll_timeout_secs = 5\n",
        telegram.api_base()
    ));
    hearth_secrets::SecretStore::new(&env.home.path().join("secrets.json"))
        .set("telegram", BOT_TOKEN)
        .unwrap();
    let flavor = ALL_FLAVORS[0];
    let mut child = env.spawn(flavor, &["serve", "--listen", "127.0.0.1:0"]);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|line: &String| line.starts_with("listening on"))
    {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("a line within 60 s")
            .unwrap()
            .expect("serve kept running");
        seen.push(line);
    }
    assert!(
        seen.iter().any(|line| line == "channel telegram started"),
        "{seen:?}"
    );

    telegram.user_says(STRANGER, STRANGER, "psst, the stranger's plan");
    let requests = telegram
        .wait_for(Duration::from_secs(30), |requests| {
            !texts_to(requests, STRANGER).is_empty()
        })
        .await;
    let offer = texts_to(&requests, STRANGER).remove(0);
    let code = offer
        .split("hearth channels pair ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no code in {offer}"))
        .to_string();

    let wrong = env.hearth(flavor, &["channels", "pair", "NOPE2345"]).await;
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    let paired = env.hearth(flavor, &["channels", "pair", &code]).await;
    assert!(paired.status.success(), "{}", stderr(&paired));
    assert!(
        stdout(&paired).contains("admitted telegram sender 99"),
        "{}",
        stdout(&paired)
    );

    let status = env.hearth(flavor, &["channels", "status", "--json"]).await;
    assert!(status.status.success(), "{}", stderr(&status));
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["channels"][0]["name"], "telegram");
    assert_eq!(status["channels"][0]["connection"], "connected");
    assert_eq!(status["channels"][0]["allowed_users"][0], "7");
    assert_eq!(status["admitted"][0]["sender"], "99");

    telegram.user_says(STRANGER, STRANGER, "hello, now paired");
    let requests = telegram
        .wait_for(Duration::from_secs(30), |requests| {
            texts_to(requests, STRANGER).len() >= 2
        })
        .await;
    assert_eq!(texts_to(&requests, STRANGER)[1], "paired and answered");
    let model_bytes: String = env
        .server()
        .requests()
        .iter()
        .map(|request| request.body.to_string())
        .collect();
    assert!(model_bytes.contains("hello, now paired"));
    assert!(
        !model_bytes.contains("stranger's plan"),
        "a stranger reached the model"
    );

    let pid = i32::try_from(child.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exited within 30 s")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
}
