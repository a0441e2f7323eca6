//! `connectionStatus` and `connectionStatusChangedAt` through the transitions of SPEC
//! §10 that users cause: generate, the callback (completed or abandoned), revoke, reset
//! and a change of the token settings.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::callback::{authorize, callback, param};
use super::*;

backend_tests!(
    a_new_record_is_not_connected_until_its_first_change,
    the_status_follows_generate_callback_revoke_reset_and_a_settings_change,
    an_abandoned_reauthorization_returns_to_the_held_tokens_status,
);

/// The record's status fields.
pub const CONNECTION: &str = "query C($input: IPackInstanceOauthConnectorKeyInput!) { IPackInstanceOAuthConnectorDetails(input: $input) { connectionStatus connectionStatusChangedAt isTokenGenerated tokenStatus { expiresAt lastError } } }";

/// The record at the sample key with `connectionId` `connection`.
pub async fn connection(ui: &Tenant<'_>, connection: &str) -> Value {
    ui.data(
        CONNECTION,
        json!({ "input": key_input(SAMPLE_SPACE).with("connectionId", connection) }),
    )
    .await["IPackInstanceOAuthConnectorDetails"]
        .clone()
}

/// The `connectionStatus` of the record at `connection`.
pub async fn status_of(ui: &Tenant<'_>, connection: &str) -> String {
    self::connection(ui, connection).await["connectionStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Polls until the record at `connection` is in `status`; panics after `seconds`.
pub async fn wait_for_status(ui: &Tenant<'_>, connection: &str, status: &str, seconds: u64) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let current = status_of(ui, connection).await;
        if current == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {current} after {seconds} s, expected {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn changed_at(record: &Value) -> DateTime<Utc> {
    record["connectionStatusChangedAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no connectionStatusChangedAt in {record}"))
}

async fn a_new_record_is_not_connected_until_its_first_change(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let record = connection(&ui, "3").await;
    assert_eq!(record["connectionStatus"], "NOT_CONNECTED");
    assert!(record["connectionStatusChangedAt"].is_null());
    // Revoking nothing changes nothing.
    ui.data(REVOKE, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert!(connection(&ui, "3").await["connectionStatusChangedAt"].is_null());
}

async fn the_status_follows_generate_callback_revoke_reset_and_a_settings_change(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let text = details(&idp, json!({}));
    save_connector(&ui, &text).await;
    let key = json!({ "input": key_input(SAMPLE_SPACE) });

    let body = generate(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    let payload = &body["data"]["generateIPackInstanceOauthAccessToken"];
    assert_eq!(
        payload["connectorDetails"]["id"],
        ui.find(key_input(SAMPLE_SPACE)).await["id"]
    );
    let pending = connection(&ui, "3").await;
    assert_eq!(pending["connectionStatus"], "PENDING_AUTHORIZATION");
    let pending_since = changed_at(&pending);

    let (_, pairs) = authorize(payload["authorizationUrl"].as_str().unwrap()).await;
    let (status, page) = callback(
        &app,
        "/oauth2/callback",
        &[
            ("code", param(&pairs, "code")),
            ("state", param(&pairs, "state")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let active = connection(&ui, "3").await;
    assert_eq!(active["connectionStatus"], "ACTIVE");
    assert!(changed_at(&active) >= pending_since);

    ui.data(REVOKE, key.clone()).await;
    assert_eq!(status_of(&ui, "3").await, "NOT_CONNECTED");

    assert!(client_credentials(&ui, "3").await.get("errors").is_none());
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    // A save that keeps the token settings keeps the status and its time.
    let before = connection(&ui, "3").await;
    save_connector(&ui, &text).await;
    let after = connection(&ui, "3").await;
    assert_eq!(after["connectionStatus"], "ACTIVE");
    assert_eq!(
        after["connectionStatusChangedAt"],
        before["connectionStatusChangedAt"]
    );
    // One that changes them does not.
    ui.save(
        save_input(SAMPLE_SPACE)
            .with(
                "oauthConnectorDetails",
                details(&idp, json!({ "scope": "read" })),
            )
            .with("clientId", crate::idp_double::CLIENT_ID),
    )
    .await;
    let changed = connection(&ui, "3").await;
    assert_eq!(changed["connectionStatus"], "NOT_CONNECTED");
    assert!(changed_at(&changed) >= changed_at(&before));

    assert!(client_credentials(&ui, "3").await.get("errors").is_none());
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    ui.data(RESET, key).await;
    assert_eq!(status_of(&ui, "3").await, "NOT_CONNECTED");
}

async fn an_abandoned_reauthorization_returns_to_the_held_tokens_status(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    assert!(client_credentials(&ui, "3").await.get("errors").is_none());

    let body = generate(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    let url = body["data"]["generateIPackInstanceOauthAccessToken"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(status_of(&ui, "3").await, "PENDING_AUTHORIZATION");
    // The user cancels at the IdP, which sends the browser back with an error.
    let state = param(
        &reqwest::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect::<Vec<_>>(),
        "state",
    )
    .to_owned();
    let (status, _) = callback(
        &app,
        "/oauth2/callback",
        &[("error", "access_denied"), ("state", &state)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(status_of(&ui, "3").await, "ACTIVE");
    // The token held all along is still served.
    let token = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        token["iPackInstanceOauthAccessToken"]["accessToken"],
        idp.last_access_token().unwrap()
    );
}
