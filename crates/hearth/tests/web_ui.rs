//! The web UI end to end in headless Chromium: `hearth serve` against the scripted
//! model, driven by one Node script (`web_ui/scenarios.mjs`, Playwright pointed at
//! Debian's chromium) that runs every scenario in one browser launch: sign-in, a
//! streamed answer, a tool row, an approval approved and one denied, HTML in an answer
//! shown as text, a session started through the API appearing live, rename, delete,
//! Esc, memory search and forget, status, and screenshots at 360 and 1280 px (in
//! `target/web-ui-artifacts/`). Needs what `scripts/setup.d/browser-tests.sh` installs;
//! without it the test skips, or fails under CI.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_testkit::{ScriptedCall, Step};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{TestEnv, ALL_FLAVORS};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The pause between the first answer's streamed chunks: its first word leaves the
/// scripted model this long after the request arrives (the opening chunk has no text).
const FIRST_ANSWER_CHUNK_DELAY_MS: u64 = 25;

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

fn exec(id: &str, command: &str) -> Step {
    let arguments = serde_json::json!({ "command": command }).to_string();
    Step::tool_calls("", vec![ScriptedCall::new(id, "exec", arguments)])
}

/// The model's side of every scenario, in the order the script sends messages.
fn script() -> Vec<Step> {
    vec![
        Step::text("Hello from **Hearth**. Here is code:\n\n```rust\nfn main() {}\n```\n\nDone.")
            .with_chunk_delay_ms(FIRST_ANSWER_CHUNK_DELAY_MS),
        Step::tool_call("call_ls", "list_dir", r#"{"path": "."}"#),
        Step::text("The workspace has notes.txt."),
        exec("call_ok", "touch approved.txt"),
        Step::text("Created approved.txt."),
        exec("call_no", "touch denied.txt"),
        Step::text("I did not create it."),
        Step::text(
            "Here: <img src=x onerror=alert(1)> and <script>window.__pwned=1</script> \
             [bad](javascript:alert(2)) [docs](https://example.com/docs) end of html",
        ),
        Step::text("Answer from elsewhere"),
        Step::Hang {
            text: "Thinking".into(),
        },
    ]
}

/// Why the browser test cannot run here, if it cannot.
fn missing_peers(playwright: &Path) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    if !playwright.join("package.json").exists() {
        return Some(format!(
            "playwright-core is missing from {}",
            playwright.display()
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Some("node is missing".into());
    }
    None
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_web_ui_works_in_headless_chromium() {
    let playwright = target_dir().join("browser-peers/node_modules/playwright-core");
    if let Some(what) = missing_peers(&playwright) {
        let what = format!("{what}; run scripts/setup.sh --test");
        eprintln!("skipped: {}", hearth_testkit::model_absent(&what));
        return;
    }
    let env = TestEnv::start(script()).await;
    std::fs::write(env.workspace().join("notes.txt"), "remember the milk\n").unwrap();
    let mut serve = env.spawn(
        ALL_FLAVORS[0],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--approval",
            "untrusted",
            "--sandbox",
            "full-access",
        ],
    );
    let mut lines = BufReader::new(serve.stderr.take().unwrap()).lines();
    let mut open_url = None;
    let mut listening = None;
    while open_url.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts within 60 s")
            .unwrap()
            .expect("serve printed where it listens");
        if let Some(addr) = line.strip_prefix("listening on ") {
            listening = Some(addr.to_string());
        }
        open_url = line.strip_prefix("open ").map(str::to_string);
    }
    let open_url = open_url.unwrap();
    let listening = listening.expect("the listening line comes first");
    assert!(
        open_url.starts_with(&format!("{listening}/#token=")),
        "{open_url}"
    );
    let token = std::fs::read_to_string(env.home.path().join("gateway.token")).unwrap();
    // Keep reading serve's stderr so it never blocks on a full pipe.
    let serve_log = tokio::spawn(async move {
        let mut log = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            log.push(line);
        }
        log
    });

    let artifacts = target_dir().join("web-ui-artifacts");
    // Only this run's screenshots (a stale failure.png would mislead).
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut node = tokio::process::Command::new("node");
    node.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web_ui/scenarios.mjs"))
        .env("HEARTH_OPEN_URL", &open_url)
        .env("HEARTH_API_TOKEN", token.trim())
        .env("PLAYWRIGHT_DIR", &playwright)
        .env("ARTIFACTS_DIR", &artifacts)
        .kill_on_drop(true);
    let run = node.output();
    tokio::pin!(run);
    // When the scripted model received the first request (its first streamed byte
    // follows at once): the start of the gateway-to-page figure.
    let mut first_request_ms = None;
    let output = loop {
        tokio::select! {
            output = &mut run => break output.expect("node ran"),
            () = tokio::time::sleep(Duration::from_millis(1)), if first_request_ms.is_none() => {
                if !env.server().requests().is_empty() {
                    first_request_ms = Some(epoch_ms());
                }
            }
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser scenarios failed:\n{stderr}\n{stdout}\n(screenshots in {})",
        artifacts.display()
    );
    assert!(
        env.workspace().join("approved.txt").exists(),
        "approved ran"
    );
    assert!(
        !env.workspace().join("denied.txt").exists(),
        "denied did not"
    );

    let mut figures: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap_or_default();
    if let (Some(start), Some(shown)) = (
        first_request_ms,
        figures["first_text_on_page_epoch_ms"].as_u64(),
    ) {
        let sent = start + u128::from(FIRST_ANSWER_CHUNK_DELAY_MS);
        figures["model_first_text_to_page_ms"] =
            serde_json::json!(i128::from(shown) - i128::try_from(sent).unwrap_or_default());
    }
    eprintln!("web UI figures: {figures}");
    for shot in ["chat-360.png", "chat-1280.png"] {
        assert!(artifacts.join(shot).exists(), "{shot} written");
    }

    let pid = i32::try_from(serve.id().unwrap()).unwrap();
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let _ = tokio::time::timeout(Duration::from_secs(30), serve.wait()).await;
    let _ = serve_log.await;
}
