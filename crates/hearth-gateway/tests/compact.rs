//! `POST /api/sessions/{id}/compact`: forces a compaction of the session's history and
//! answers the checkpoint (null when there is nothing old enough to compact).

use hearth_testkit::Step;
use serde_json::Value;

use crate::common::{sse_events, Harness};

#[tokio::test]
async fn the_compact_route_summarises_the_history_into_a_checkpoint() {
    let gateway = Harness::start(vec![
        Step::text("answer one"),
        Step::text("answer two"),
        Step::text("- The user said one, then two."),
    ])
    .await;
    let session = gateway.new_session().await;
    let compact = |session: String| {
        gateway
            .post(&format!("/api/sessions/{session}/compact"))
            .send()
    };
    let empty: Value = compact(session.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(empty["checkpoint"], Value::Null);
    for text in ["one", "two"] {
        let response = gateway.send(&session, text).await;
        let events = sse_events(&response.text().await.unwrap());
        assert_eq!(events.last().unwrap()["type"], "final", "{events:?}");
        gateway.wait_idle().await;
    }
    let response = compact(session.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["checkpoint"]["summary"],
        "- The user said one, then two."
    );
    assert_eq!(body["checkpoint"]["session_id"], session.as_str());
    // The transcript stays whole.
    let transcript = gateway.transcript(&session).await;
    assert_eq!(transcript["messages"].as_array().map(Vec::len), Some(4));
    gateway.stop().await;
}
