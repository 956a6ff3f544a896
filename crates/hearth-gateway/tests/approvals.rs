//! Approvals over the API: an exec call under `untrusted` asks through the turn's
//! events and waits for `POST /api/approvals/{id}`; every decision is recorded.

use serde_json::Value;

use crate::common::{exec_then_answer, untrusted, Harness};

/// Reads the SSE stream until the approval question and returns its id.
async fn approval_id(response: &mut reqwest::Response) -> (String, Vec<u8>) {
    let mut seen = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        seen.extend_from_slice(&chunk);
        let text = String::from_utf8_lossy(&seen).into_owned();
        for event in crate::common::sse_events_partial(&text) {
            if event["type"] == "approval_requested" {
                return (event["id"].as_str().unwrap().to_string(), seen);
            }
        }
    }
    panic!("no approval question in {}", String::from_utf8_lossy(&seen));
}

async fn answer(gateway: &Harness, id: &str, decision: &str) -> u16 {
    gateway
        .post(&format!("/api/approvals/{id}"))
        .json(&serde_json::json!({ "decision": decision }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_approved_command_runs_and_the_decision_is_recorded() {
    let gateway = Harness::start_with(
        exec_then_answer("touch approved.txt", "all done"),
        untrusted(),
        |_| {},
    )
    .await;
    let session = gateway.new_session().await;
    let mut response = gateway.send(&session, "make the file").await;
    let (id, _) = approval_id(&mut response).await;
    assert_eq!(answer(&gateway, &id, "approve").await, 200);
    assert_eq!(
        answer(&gateway, &id, "approve").await,
        404,
        "answered once only"
    );
    let rest = response.text().await.unwrap();
    let events = crate::common::sse_events(&rest);
    assert_eq!(events.last().unwrap()["text"], "all done");
    assert!(gateway.workspace().join("approved.txt").exists());

    let store = hearth_store::Store::open(&gateway.home.path().join("state.db")).unwrap();
    let records = store.approvals(&session).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].decision, "approved");
    assert_eq!(records[0].command, "touch approved.txt");
    gateway.stop().await;
}

#[tokio::test]
async fn a_denied_command_does_not_run_and_the_model_is_told() {
    let gateway = Harness::start_with(
        exec_then_answer("touch denied.txt", "all done"),
        untrusted(),
        |_| {},
    )
    .await;
    let session = gateway.new_session().await;
    let mut response = gateway.send(&session, "make the file").await;
    let (id, _) = approval_id(&mut response).await;
    assert_eq!(answer(&gateway, &id, "deny").await, 200);
    let events = crate::common::sse_events(&response.text().await.unwrap());
    let result = events
        .iter()
        .find(|event| event["type"] == "tool_result")
        .unwrap();
    assert!(result.to_string().contains("declined"), "{result}");
    assert_eq!(events.last().unwrap()["text"], "all done");
    assert!(!gateway.workspace().join("denied.txt").exists());

    let store = hearth_store::Store::open(&gateway.home.path().join("state.db")).unwrap();
    let records = store.approvals(&session).unwrap();
    assert!(records[0].decision.starts_with("denied"), "{records:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_deny() {
    let gateway = Harness::start_with(
        exec_then_answer("touch late.txt", "all done"),
        untrusted(),
        |settings| {
            settings.approval_timeout = std::time::Duration::from_millis(300);
        },
    )
    .await;
    let session = gateway.new_session().await;
    let response = gateway.send(&session, "make the file").await;
    let events = crate::common::sse_events(&response.text().await.unwrap());
    assert!(events
        .iter()
        .any(|event| event["type"] == "approval_requested"));
    let result: Value = events
        .iter()
        .find(|event| event["type"] == "tool_result")
        .cloned()
        .unwrap();
    assert!(result.to_string().contains("no one answered"), "{result}");
    assert!(!gateway.workspace().join("late.txt").exists());
    gateway.stop().await;
}
