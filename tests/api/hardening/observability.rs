//! SPEC §1 `GET /metrics`: Prometheus text with operations by outcome, latencies and
//! the database pool, with bounded labels and never a secret.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

backend_tests!(metrics_count_operations_by_outcome_and_never_show_a_secret);

async fn metrics_count_operations_by_outcome_and_never_show_a_secret(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let secret = "metrics-must-never-show-this-secret";
    alice
        .save(save_input(SAMPLE_SPACE).with("clientSecret", secret))
        .await;
    alice
        .graphql(DELETE, json!({ "input": key_input("other") }))
        .await;
    // A made-up root field must not become a label.
    alice.graphql("{ madeUpFieldName }", json!({})).await;

    let (status, headers, body) = app::send(app.request(Method::GET, "/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = body.as_str().expect("the exposition is text");
    for expected in [
        r#"spaces_oauth_graphql_operations_total{operation="saveIPackInstanceOauthConnectorDetails",outcome="ok"}"#,
        r#"spaces_oauth_graphql_operations_total{operation="deleteIPackInstanceOauthConnectorDetails",outcome="SPACE_GUID_MISMATCH"}"#,
        r#"spaces_oauth_graphql_request_duration_seconds_bucket{operation="saveIPackInstanceOauthConnectorDetails",le="+Inf"}"#,
        r#"spaces_oauth_http_requests_total{route="/graphql",status="200"}"#,
        r#"spaces_oauth_db_pool_connections{state="idle"}"#,
        "spaces_oauth_db_pool_max_connections",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    assert!(!text.contains("madeUpFieldName"));
    assert!(!text.contains(secret));
    assert!(!text.contains(&alice.token));
}
