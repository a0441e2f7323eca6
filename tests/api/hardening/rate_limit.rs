//! SPEC §8: a token bucket per account; an empty bucket answers 429 with `Retry-After`
//! and `RATE_LIMITED` (SPEC §7), writes nothing, and leaves other accounts alone.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

backend_tests!(
    an_account_over_its_rate_is_refused_with_429_and_retry_after,
    a_batch_costs_one_token_per_operation,
    a_zero_rate_disables_the_limit,
);

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
