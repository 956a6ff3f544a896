//! The gateway's request bodies under random input (issue 20): random bytes, random JSON
//! and JSON shaped like the real bodies (known field names, values of any type) sent to
//! every route that reads a body, native API and OpenAI-compatible alike, through the
//! real router over a real socket. Never a 5xx, never a dropped connection (a panic);
//! every refusal is a 4xx whose body is JSON with an `error.message`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hearth_testkit::Step;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::common::Harness;

/// Cases per property: enough to cover every route and body kind, small enough for 2 cores.
const CASES: u32 = 160;

/// The routes that read a body; `{session}` is a real session's id.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/sessions"),
    ("PATCH", "/api/sessions/{session}"),
    ("POST", "/api/sessions/{session}/messages"),
    ("POST", "/api/sessions/{session}/compact"),
    ("POST", "/api/sessions/{session}/cancel"),
    ("POST", "/api/approvals/{session}"),
    ("POST", "/api/memory"),
    ("POST", "/v1/chat/completions"),
];

/// Field names the real bodies use, so random shapes often get past the first check.
const FIELDS: &[&str] = &[
    "text",
    "title",
    "model",
    "workspace",
    "decision",
    "tags",
    "messages",
    "role",
    "content",
    "type",
    "stream",
    "stream_options",
    "include_usage",
    "user",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "(hearth|user|assistant|system|allow|deny|always|text|[ -~]{0,12}|\\PC{0,8})"
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(FIELDS).prop_map(str::to_string),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// A body: raw bytes, any JSON, or an object shaped like the real ones.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|value| value.to_string().into_bytes()),
        proptest::collection::vec((proptest::sample::select(FIELDS), json_value()), 0..5).prop_map(
            |fields| {
                let object: serde_json::Map<String, Value> = fields
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value))
                    .collect();
                Value::Object(object).to_string().into_bytes()
            }
        ),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    proptest::sample::select(vec![
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        None,
    ])
}

/// Sends one body; fails the case on a 5xx, a lost connection, or a 4xx without a JSON
/// error message. A 2xx body is read to its end (a turn runs to its final event).
/// Returns the status.
async fn check(
    harness: &Harness,
    session: &str,
    (method, route): (&str, &str),
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<u16, TestCaseError> {
    let path = route.replace("{session}", session);
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = harness
        .client
        .request(method.clone(), harness.url(&path))
        .bearer_auth(crate::common::TOKEN)
        .body(body.clone());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let shown = String::from_utf8_lossy(&body).into_owned();
    let response = request
        .send()
        .await
        .map_err(|err| TestCaseError::fail(format!("{method} {path} {shown:?}: {err}")))?;
    let status = response.status();
    let text = tokio::time::timeout(Duration::from_secs(60), response.text())
        .await
        .map_err(|_| TestCaseError::fail(format!("{method} {path}: the body never ended")))?
        .map_err(|err| TestCaseError::fail(format!("{method} {path} {shown:?}: {err}")))?;
    prop_assert!(
        status.as_u16() < 500,
        "{method} {path} {shown:?}: {status} {text}"
    );
    if status.is_client_error() {
        let error: Value = serde_json::from_str(&text).map_err(|_| {
            TestCaseError::fail(format!(
                "{method} {path} {shown:?}: {status} non-JSON {text}"
            ))
        })?;
        let message = error["error"]["message"].as_str().unwrap_or_default();
        prop_assert!(
            !message.is_empty(),
            "{method} {path} {shown:?}: {status} without error.message: {text}"
        );
    }
    Ok(status.as_u16())
}

#[test]
fn random_request_bodies_answer_4xx_with_a_json_error_never_5xx() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // Every turn a valid body starts gets a short answer.
    let steps = (0..2_000).map(|_| Step::text("ok")).collect();
    let (harness, session) = runtime.block_on(async {
        let harness = Harness::start(steps).await;
        let session = harness.new_session().await;
        (harness, session)
    });
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (proptest::sample::select(ROUTES), content_type(), body());
    let (accepted, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let result = runner.run(&strategy, |(route, content_type, body)| {
        runtime.block_on(async {
            let status = check(&harness, &session, route, content_type, body).await?;
            let tally = if status < 300 { &accepted } else { &refused };
            tally.fetch_add(1, Ordering::Relaxed);
            harness.wait_idle().await;
            Ok(())
        })
    });
    runtime.block_on(harness.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The shaped bodies reach the handlers, not only the parsers' refusals.
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
