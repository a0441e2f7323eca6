//! SPEC §8 limits, each configurable: body size (413), query depth and complexity,
//! batch size, and the request time limit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::raw::{TrickledRequest, body_json};
use crate::helpers::*;

backend_tests!(
    a_body_over_the_limit_is_refused_with_413,
    a_query_deeper_than_the_limit_is_a_request_error,
    a_query_more_complex_than_the_limit_is_a_request_error,
    a_batch_over_the_limit_is_refused_and_one_at_the_limit_runs,
    a_request_over_the_time_limit_is_answered_503_and_writes_nothing,
);

/// POST /graphql with `Accept: application/graphql-response+json` and no credentials.
async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let request = app
        .request(Method::POST, "/graphql")
        .header("Accept", "application/graphql-response+json")
        .json(&body);
    let (status, _, body) = app::send(request).await;
    (status, body)
}

async fn a_body_over_the_limit_is_refused_with_413(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_body_bytes = 1024).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let big = save_input(SAMPLE_SPACE).with("clientId", "x".repeat(2048));
    let (status, _, body) = alice.graphql(SAVE, json!({ "input": big })).await;
    assert_error(
        (status, &body),
        StatusCode::PAYLOAD_TOO_LARGE,
        "INVALID_INPUT",
    );
    assert!(app.records().await.is_empty(), "nothing may be written");
    let (status, _) = post(&app, json!({ "query": "{ __typename }" })).await;
    assert_eq!(status, StatusCode::OK, "a small body still passes");
}

async fn a_query_deeper_than_the_limit_is_a_request_error(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_query_depth = 3).await else {
        return;
    };
    let deep = "{ __schema { types { fields { type { name } } } } }";
    let (status, body) = post(&app, json!({ "query": deep })).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");
    assert!(
        body.get("data").is_none(),
        "a request error has no data: {body}"
    );
    let (status, body) = post(&app, json!({ "query": "{ __schema { types { name } } }" })).await;
    assert_eq!(status, StatusCode::OK, "within the limit: {body}");
}

async fn a_query_more_complex_than_the_limit_is_a_request_error(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_query_complexity = 4).await
    else {
        return;
    };
    let complex = "{ __schema { types { name kind description specifiedByURL } } }";
    let (status, body) = post(&app, json!({ "query": complex })).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");
    let (status, body) = post(&app, json!({ "query": "{ __typename }" })).await;
    assert_eq!(status, StatusCode::OK, "within the limit: {body}");
}

async fn a_batch_over_the_limit_is_refused_and_one_at_the_limit_runs(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_batch_operations = 2).await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let one = json!({ "query": FIND, "variables": { "input": key_input(SAMPLE_SPACE) } });
    let (status, _, body) = app
        .graphql_body(
            Some(&alice.token),
            Some(SAMPLE_SPACE),
            json!([one, one, one]),
        )
        .await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "batch");
    let (status, _, body) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), json!([one, one]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
}

async fn a_request_over_the_time_limit_is_answered_503_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.request_timeout_seconds = 1).await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let body =
        json!({ "query": SAVE, "variables": { "input": save_input(SAMPLE_SPACE) } }).to_string();
    let authorization = format!("Bearer {}", alice.token);
    let headers = [
        ("Authorization", authorization.as_str()),
        ("SPACE_GUID", SAMPLE_SPACE),
    ];
    // The body never completes: the server must give up by itself.
    let started = std::time::Instant::now();
    let stalled = TrickledRequest::start(app.address, &headers, &body, 20).await;
    let (status, raw) = stalled.read_response().await;
    assert_eq!(status, 503, "{raw}");
    assert_eq!(
        error_code(&body_json(&raw)).as_deref(),
        Some("GENERIC_SYSTEM_ERROR"),
        "{raw}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered in time"
    );
    assert!(app.records().await.is_empty());
}
