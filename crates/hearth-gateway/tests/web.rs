//! The web UI's assets (open, with the security headers and revalidation) and the API
//! routes the UI adds: rename, memory search/add/forget and status.

use serde_json::{json, Value};

use crate::common::Harness;

#[tokio::test]
async fn the_page_is_open_and_carries_a_policy_that_forbids_inline_script() {
    let gateway = Harness::start(vec![]).await;
    let page = gateway.get_without_token("/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let policy = header("content-security-policy");
    assert_eq!(policy, hearth_gateway::CONTENT_SECURITY_POLICY_VALUE);
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|directive| directive.starts_with("script-src"))
        .expect("a script-src directive");
    assert_eq!(
        script_src, "script-src 'self'",
        "no inline or eval allowance"
    );
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    assert!(policy.contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-cache");
    assert!(header("content-type").starts_with("text/html"));
    let etag = header("etag");
    let body = page.text().await.unwrap();
    assert!(body.contains(r#"<script type="module" src="/assets/app.js"></script>"#));

    let again = gateway
        .get_without_token("/")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "revalidated by ETag");

    let script = gateway
        .get_without_token("/assets/app.js")
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.headers().contains_key("content-security-policy"));
    let missing = gateway
        .get_without_token("/assets/missing.js")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    gateway.stop().await;
}

#[tokio::test]
async fn a_session_is_renamed_and_an_empty_title_refused() {
    let gateway = Harness::start(vec![]).await;
    let session = gateway.new_session().await;
    let path = format!("/api/sessions/{session}");
    let rename = |title: &str| gateway.patch(&path).json(&json!({ "title": title })).send();
    let renamed = rename("  Groceries  ").await.unwrap();
    assert_eq!(renamed.status(), 200);
    let body: Value = renamed.json().await.unwrap();
    assert_eq!(body["title"], "Groceries");
    assert_eq!(
        gateway.transcript(&session).await["session"]["title"],
        "Groceries"
    );
    let empty = rename(" ").await.unwrap();
    assert_eq!(empty.status(), 400);
    let unauthorised = gateway
        .client
        .patch(gateway.url(&path))
        .json(&json!({ "title": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    gateway.stop().await;
}

#[tokio::test]
async fn memory_notes_are_added_found_with_their_source_and_forgotten() {
    let gateway = Harness::start(vec![]).await;
    let added = gateway
        .post_json(
            "/api/memory",
            &json!({ "text": "The boat is called Marigold" }),
        )
        .await;
    assert_eq!(added.status(), 201);
    let item: Value = added.json().await.unwrap();
    let id = item["id"].as_i64().unwrap();
    assert_eq!(item["source"], "user note");

    let found: Value = gateway.get_json("/api/memory?q=Marigold").await;
    let items = found["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|hit| hit["id"] == id && hit["text"] == "The boat is called Marigold"),
        "{found}"
    );

    let forget = gateway
        .delete(&format!("/api/memory/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forget.status(), 204);
    let again = gateway
        .delete(&format!("/api/memory/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    let after: Value = gateway.get_json("/api/memory?q=Marigold").await;
    assert!(!after.to_string().contains("Marigold"), "{after}");
    let empty = gateway
        .post_json("/api/memory", &json!({ "text": "  " }))
        .await;
    assert_eq!(empty.status(), 400);
    gateway.stop().await;
}

#[tokio::test]
async fn status_names_the_model_sandbox_destinations_and_session_costs() {
    let gateway = Harness::start(vec![]).await;
    let session = gateway.new_session().await;
    let status: Value = gateway.get_json("/api/status").await;
    let runtime = &status["runtime"];
    assert_eq!(runtime["model"], "openai:scripted-model", "{status}");
    assert_eq!(runtime["sandbox_mode"], "workspace-write");
    assert_eq!(runtime["approval"], "on-request");
    assert!(runtime["sandbox_mechanism"].as_str().is_some());
    let outbound: Vec<&str> = runtime["outbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(outbound, ["openai", "anthropic", "web_fetch"]);
    assert_eq!(status["sessions"][0]["session"]["id"], session.as_str());
    assert_eq!(status["sessions"][0]["usage"]["input_tokens"], 0);
    gateway.stop().await;
}
