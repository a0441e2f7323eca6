//! A refresh sent to the IdP completes and is stored whatever happens to the request
//! that started it (SPEC §10): against a slow IdP that rotates single-use refresh
//! tokens, a caller that gives up after one second, or a request cut off by the
//! server's request time limit, loses nothing.

use std::time::Duration;

use serde_json::json;

use super::connection_status::status_of;
use super::*;
use crate::idp_double::{Knobs, PASSWORD, USERNAME};

backend_tests!(a_refresh_whose_caller_disconnects_still_stores_the_rotated_token);

async fn a_refresh_whose_caller_disconnects_still_stores_the_rotated_token(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        refresh_delay: Duration::from_secs(2),
        ..Knobs::default()
    })
    .await;
    let Some(mut app) = spawn_with(backend, |config| {
        config.limits.idp_timeout_seconds = 5;
    })
    .await
    else {
        return;
    };
    {
        let ui = connected(&app, &idp).await;
        let body = generate(
            &ui,
            generate_input(SAMPLE_SPACE, "PASSWORD")
                .with("username", USERNAME)
                .with("password", PASSWORD),
        )
        .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    let issued = token_row(&app).await.unwrap();

    // The caller gives up after one second and closes its connection.
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let impatient = ui
        .app
        .graphql_request(
            Some(&ui.token),
            Some(&ui.space),
            json!({ "query": REFRESH, "variables": { "input": key_input(SAMPLE_SPACE) } }),
        )
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(impatient.is_err(), "the refresh answered within a second");
    // The IdP answers a second later, rotating the refresh token: the server stores it.
    let first = stored_after(&app, &issued).await;
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");

    // The same when the server's own request time limit cuts the request off.
    app.restart_with(|config| config.limits.request_timeout_seconds = 1)
        .await
        .unwrap();
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert!(
        body.get("errors").is_some(),
        "the refresh beat the time limit: {body}"
    );
    stored_after(&app, &first).await;

    // The next refresh presents the latest rotated token and succeeds.
    idp.set(|k| k.refresh_delay = Duration::ZERO);
    let data = ui
        .data(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert!(data["refreshIPackInstanceOauthAccessToken"]["tokenStatus"]["lastError"].is_null());
    assert_eq!(idp.refused_refreshes(), 0);
    let mut presented = idp.presented_refresh_tokens();
    assert_eq!(presented.len(), 3);
    presented.sort();
    presented.dedup();
    assert_eq!(presented.len(), 3, "a refresh token was presented twice");
}

/// Waits (at most 5 s) until the token row holds another refresh token than `before`,
/// stored by a completed refresh with its lease released; the new row.
async fn stored_after(
    app: &TestApp,
    before: &entity::oauth_token::Model,
) -> entity::oauth_token::Model {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let row = token_row(app).await.unwrap();
        if row.sealed_refresh_token != before.sealed_refresh_token {
            assert!(row.last_refreshed_at.is_some());
            assert!(row.lease_owner.is_none());
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refresh was never stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
