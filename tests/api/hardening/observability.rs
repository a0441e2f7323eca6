//! SPEC §1 `GET /metrics`: Prometheus text with operations by outcome, latencies, the
//! database pool, IdP calls and token refreshes, with bounded labels and never a secret.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    metrics_count_operations_by_outcome_and_never_show_a_secret,
    metrics_count_idp_calls_and_refreshes_by_outcome,
);

async fn metrics_count_operations_by_outcome_and_never_show_a_secret(backend: Backend) {
    // The real binary: its metrics recorder is its own, no parallel test adds to it.
    let Some(app) = TestApp::spawn_process(backend, &[]).await else {
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

async fn metrics_count_idp_calls_and_refreshes_by_outcome(backend: Backend) {
    use crate::idp_double::{IdpDouble, PASSWORD, USERNAME};
    use crate::tokens::{REFRESH, details, generate, generate_input, save_connector};

    let idp = IdpDouble::start().await;
    // The real binary, so these counters are this test's alone.
    let Some(app) = crate::tokens::spawn_process(backend, &[]).await else {
        return;
    };
    let ui = app.tenant(crate::tokens::ACCOUNT, SAMPLE_SPACE);
    save_connector(&ui, &details(&idp, json!({}))).await;
    let ok = r#"spaces_oauth_idp_requests_total{outcome="2xx"}"#;
    let refused = r#"spaces_oauth_idp_requests_total{outcome="4xx"}"#;
    let refreshed = r#"spaces_oauth_token_refreshes_total{outcome="refreshed"}"#;
    // invalid_grant is a terminal refusal (SPEC §10).
    let failed = r#"spaces_oauth_token_refreshes_total{outcome="terminal"}"#;
    let before = app.metrics().await;

    let input = generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", USERNAME)
        .with("password", PASSWORD);
    generate(&ui, input).await;
    let refresh = json!({ "input": key_input(SAMPLE_SPACE) });
    ui.data(REFRESH, refresh.clone()).await;
    idp.set(|k| k.fail_with = Some((400, "invalid_grant".into(), "revoked".into())));
    ui.graphql(REFRESH, refresh).await;

    // Two more records, one deleted: the status gauge counts what is stored.
    for connection in ["7", "8"] {
        ui.save(save_input(SAMPLE_SPACE).with("connectionId", connection))
            .await;
    }
    let gone = key_input(SAMPLE_SPACE).with("connectionId", "8");
    ui.data(DELETE, json!({ "input": gone })).await;

    // Exact counts: nobody else writes to this process's recorder.
    let after = app.metrics().await;
    let delta = |name: &str| metric_sample(&after, name) - metric_sample(&before, name);
    assert_eq!(delta(ok), 2.0, "{after}");
    assert_eq!(delta(refused), 1.0, "{after}");
    assert_eq!(delta(refreshed), 1.0, "{after}");
    assert_eq!(delta(failed), 1.0, "{after}");
    assert!(after.contains("spaces_oauth_idp_request_duration_seconds_bucket"));
    // Connections by status, every status present, each the number of records stored in
    // it (kept by triggers on insert, delete and status change; read at scrape).
    let records = app.records().await;
    assert_eq!(records.len(), 2);
    for status in [
        "NOT_CONNECTED",
        "PENDING_AUTHORIZATION",
        "ACTIVE",
        "REFRESH_FAILING",
        "NEEDS_REAUTHORIZATION",
    ] {
        let series = format!(r#"spaces_oauth_connections{{status="{status}"}}"#);
        assert!(after.contains(&series), "missing {series} in:\n{after}");
        let held = records
            .iter()
            .filter(|record| record.connection_status == status)
            .count();
        assert_eq!(metric_sample(&after, &series), held as f64, "{series}");
    }
    let reauthorize = r#"spaces_oauth_connections{status="NEEDS_REAUTHORIZATION"}"#;
    assert_eq!(metric_sample(&after, reauthorize), 1.0, "{after}");
    for secret in [crate::idp_double::CLIENT_SECRET, PASSWORD] {
        assert!(!after.contains(secret));
    }
    for issued in idp.issued_tokens() {
        assert!(!after.contains(&issued));
    }
}
