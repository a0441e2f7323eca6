//! Connection events (SPEC §12): signed webhooks from the outbox against a receiver on
//! 127.0.0.1, and GraphQL subscriptions over a real WebSocket client.

mod lifecycle;
mod subscriptions;
mod webhooks;

use std::time::Duration;

use serde_json::json;

use crate::helpers::webhooks::WEBHOOK_SECRET;
use crate::helpers::*;
use crate::idp_double::IdpDouble;
use crate::tokens::{client_credentials, save_with_secret};

/// The client secret (planted: searched for in payloads).
pub const PLANTED_SECRET: &str = crate::idp_double::CLIENT_SECRET;

/// A server delivering webhooks to `urls` with fast retries.
pub async fn spawn_with_webhooks(
    backend: Backend,
    urls: Vec<String>,
    adjust: impl FnOnce(&mut server::Config),
) -> Option<TestApp> {
    crate::tokens::spawn_with(backend, |config| {
        config.webhook_urls = urls;
        config.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
        config.webhook_retry_scale = 0.001;
        config.webhook_poll_interval_seconds = 0.05;
        adjust(config);
    })
    .await
}

/// Saves `connection` with the planted secret and generates a client-credentials token.
pub async fn generate_token(ui: &Tenant<'_>, idp: &IdpDouble, connection: &str) {
    save_with_secret(ui, idp, connection, PLANTED_SECRET).await;
    let body = client_credentials(ui, connection).await;
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
}

/// Deletes the sample key at `connection`.
pub async fn delete(ui: &Tenant<'_>, connection: &str) {
    let key = key_input(&ui.space).with("connectionId", connection);
    let data = ui.data(DELETE, json!({ "input": key })).await;
    assert_eq!(data["deleteIPackInstanceOauthConnectorDetails"], true);
}

/// Polls `check` until it answers `Some` (at most `within`).
pub async fn eventually<T, F>(within: Duration, mut check: impl FnMut() -> F) -> Option<T>
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return Some(found);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
