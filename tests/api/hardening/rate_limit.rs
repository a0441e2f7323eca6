//! SPEC §8, §13: a token bucket per account, one token per root field (aliases count);
//! an empty bucket answers 429 with `Retry-After` and `RATE_LIMITED` (SPEC §7), writes
//! nothing, and leaves other accounts alone; `MAX_ROOT_FIELDS` caps an operation.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    an_account_over_its_rate_is_refused_with_429_and_retry_after,
    a_batch_costs_one_token_per_operation,
    a_zero_rate_disables_the_limit,
    each_aliased_root_field_costs_a_token,
    an_operation_over_max_root_fields_is_a_request_error,
);

/// `n` aliased reads of the same record, one document, plus a fragment's field.
fn aliased_finds(n: usize) -> String {
    let fields: String = (0..n)
        .map(|i| format!(" f{i}: IPackInstanceOAuthConnectorDetails(input: $input) {{ id }}"))
        .collect();
    format!(
        "query Many($input: IPackInstanceOauthConnectorKeyInput!) {{{fields} ...Extra }} \
         fragment Extra on Query {{ extra: IPackInstanceOAuthConnectorDetails(input: $input) {{ id }} }}"
    )
}

async fn each_aliased_root_field_costs_a_token(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_rps = 1;
        c.rate_limit_burst = 6;
    })
    .await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    // 4 aliases + 1 in a fragment = 5 tokens of 6.
    let (status, _, body) = alice.graphql(&aliased_finds(4), variables.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let (status, _, body) = alice.graphql(&aliased_finds(1), variables).await;
    assert_error(
        (status, &body),
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
}

async fn an_operation_over_max_root_fields_is_a_request_error(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_root_fields = 5).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    let (status, _, body) = alice.graphql(&aliased_finds(5), variables.clone()).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "query", "{body}");
    assert!(body.get("data").is_none(), "a request error: {body}");
    let (status, _, body) = alice.graphql(&aliased_finds(4), variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "5 root fields pass: {body}");
}

async fn an_account_over_its_rate_is_refused_with_429_and_retry_after(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_rps = 1;
        c.rate_limit_burst = 2;
    })
    .await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for connection in ["1", "2"] {
        alice
            .save(save_input(SAMPLE_SPACE).with("connectionId", connection))
            .await;
    }
    let input = save_input(SAMPLE_SPACE).with("connectionId", "3");
    let (status, headers, body) = alice.graphql(SAVE, json!({ "input": input })).await;
    assert_error(
        (status, &body),
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert!(body["errors"][0]["extensions"]["requestId"].is_string());
    assert_eq!(
        app.records().await.len(),
        2,
        "the refused save wrote nothing"
    );

    let bob = app.tenant("acct-2", SAMPLE_SPACE);
    bob.save(save_input(SAMPLE_SPACE)).await;

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    alice.save(input).await;
}

async fn a_batch_costs_one_token_per_operation(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_rps = 1;
        c.rate_limit_burst = 3;
    })
    .await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let one = json!({ "query": FIND, "variables": { "input": key_input(SAMPLE_SPACE) } });
    let batch = |n: usize| json!(vec![one.clone(); n]);
    let (status, _, body) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), batch(3))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), batch(2))
        .await;
    assert_error(
        (status, &body),
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
}

async fn a_zero_rate_disables_the_limit(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_rps = 0;
        c.rate_limit_burst = 1;
    })
    .await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for _ in 0..30 {
        alice.find(key_input(SAMPLE_SPACE)).await;
    }
}
