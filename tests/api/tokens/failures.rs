//! Refresh failures by class (SPEC §10) against the IdP double: a terminal refusal
//! (`invalid_grant`) needs re-authorization and stops the background refresher; a
//! transient one (503, 429 with `Retry-After`) keeps the token and retries; a refused
//! refresh is not terminal when a newer token was stored meanwhile; an expired token
//! nothing can renew needs re-authorization.

use std::time::Duration;

use serde_json::json;

use super::connection_status::{connection, status_of, wait_for_status};
use super::*;
use crate::idp_double::Knobs;

backend_tests!(
    an_invalid_grant_needs_reauthorization_and_the_refresher_stops_trying,
    a_503_makes_the_connection_refresh_failing_until_the_idp_recovers,
    a_retry_after_from_the_idp_postpones_the_next_attempt,
    a_refused_refresh_is_not_terminal_when_a_newer_token_was_stored,
    an_expired_token_nothing_can_renew_needs_reauthorization,
);

/// A server whose refresher sweeps every 0.3 s for tokens expiring within `ahead` s.
async fn sweeping(backend: Backend, ahead: u64) -> Option<TestApp> {
    spawn_with(backend, |config| {
        config.refresh_interval_seconds = 0.3;
        config.refresh_ahead_seconds = ahead;
    })
    .await
}

async fn read(app: &TestApp) -> serde_json::Value {
    runtime(app, ACCOUNT, SAMPLE_SPACE)
        .graphql(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await
        .2
}

async fn an_invalid_grant_needs_reauthorization_and_the_refresher_stops_trying(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 5,
        ..Knobs::default()
    })
    .await;
    // Due one second after it is issued.
    let Some(app) = sweeping(backend, 4).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let held = idp.last_access_token().unwrap();
    let expires_at = token_row(&app).await.unwrap().expires_at.unwrap();
    // An administrator revokes the grant at the provider.
    idp.revoke_refresh_tokens();

    wait_for_status(&ui, "3", "NEEDS_REAUTHORIZATION", 5).await;
    let record = connection(&ui, "3").await;
    assert!(record["connectionStatusChangedAt"].is_string());
    assert!(
        record["tokenStatus"]["lastError"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    assert_eq!(idp.refused_refreshes(), 1);
    // The still-valid token is still served.
    let body = read(&app).await;
    assert_eq!(
        body["data"]["iPackInstanceOauthAccessToken"]["accessToken"], held,
        "{body}"
    );
    // The refresh mutation does not ask the IdP again.
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("REAUTHORIZATION_REQUIRED"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["idpError"], "invalid_grant");

    // Several sweeps later, past the expiry: no further attempt, and the expired token
    // is no longer served.
    let started = idp.started_requests();
    let until_expiry = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(until_expiry.max(Duration::from_millis(1500)) + Duration::from_millis(300))
        .await;
    assert_eq!(idp.started_requests(), started, "the refresher tried again");
    let body = read(&app).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("REAUTHORIZATION_REQUIRED"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["idpError"], "invalid_grant");
    assert_eq!(status_of(&ui, "3").await, "NEEDS_REAUTHORIZATION");

    // A new generation starts over.
    assert!(
        generate(&ui, password_input())
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    let row = token_row(&app).await.unwrap();
    assert!(row.reauthorization_required_at.is_none());
    assert!(row.last_idp_error.is_none());
}

async fn a_503_makes_the_connection_refresh_failing_until_the_idp_recovers(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 12,
        ..Knobs::default()
    })
    .await;
    let Some(app) = sweeping(backend, 11).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let held = idp.last_access_token().unwrap();
    idp.set(|k| {
        k.fail_with = Some((
            503,
            "temporarily_unavailable".into(),
            "down for maintenance".into(),
        ));
    });

    wait_for_status(&ui, "3", "REFRESH_FAILING", 5).await;
    let record = connection(&ui, "3").await;
    assert!(
        record["tokenStatus"]["lastError"]
            .as_str()
            .unwrap()
            .contains("temporarily_unavailable")
    );
    let body = read(&app).await;
    assert_eq!(
        body["data"]["iPackInstanceOauthAccessToken"]["accessToken"], held,
        "{body}"
    );
    let row = token_row(&app).await.unwrap();
    assert!(row.reauthorization_required_at.is_none());
    assert!(row.next_attempt_at.is_some());

    // The IdP recovers; the refresher's next attempt (after its backoff) succeeds.
    idp.set(|k| k.fail_with = None);
    wait_for_status(&ui, "3", "ACTIVE", 10).await;
    let record = connection(&ui, "3").await;
    assert!(record["tokenStatus"]["lastError"].is_null());
    assert_ne!(idp.last_access_token().unwrap(), held);
    assert_eq!(idp.refused_refreshes(), 0);
}

async fn a_retry_after_from_the_idp_postpones_the_next_attempt(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    idp.set(|k| {
        k.fail_with = Some((429, "slow_down".into(), "too many requests".into()));
        k.retry_after = Some("120".into());
    });
    let before = chrono::Utc::now();
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["idpError"], "slow_down");
    assert_eq!(status_of(&ui, "3").await, "REFRESH_FAILING");
    let row = token_row(&app).await.unwrap();
    let next = row.next_attempt_at.unwrap();
    assert!(
        next >= before + chrono::Duration::seconds(119),
        "next attempt at {next}, the IdP asked for 120 s"
    );
    assert_eq!(row.last_idp_error.as_deref(), Some("slow_down"));
}

async fn a_refused_refresh_is_not_terminal_when_a_newer_token_was_stored(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        refresh_delay: Duration::from_millis(1500),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    idp.revoke_refresh_tokens();
    let refresh = ui.graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }));
    let regenerate = async {
        // While the refresh waits for the IdP, the user generates a new token.
        tokio::time::sleep(Duration::from_millis(300)).await;
        generate(&ui, password_input()).await
    };
    let ((_, _, refreshed), generated) = tokio::join!(refresh, regenerate);
    assert!(generated.get("errors").is_none(), "{generated}");
    assert_eq!(idp.refused_refreshes(), 1);
    assert!(refreshed.get("errors").is_none(), "{refreshed}");
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    let row = token_row(&app).await.unwrap();
    assert!(row.reauthorization_required_at.is_none());
    let body = read(&app).await;
    assert_eq!(
        body["data"]["iPackInstanceOauthAccessToken"]["accessToken"],
        idp.last_access_token().unwrap()
    );
}

async fn an_expired_token_nothing_can_renew_needs_reauthorization(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 1,
        issue_refresh_tokens: false,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let body = read(&app).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("REAUTHORIZATION_REQUIRED"),
        "{body}"
    );
    assert_eq!(status_of(&ui, "3").await, "NEEDS_REAUTHORIZATION");
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("REAUTHORIZATION_REQUIRED")
    );
}
