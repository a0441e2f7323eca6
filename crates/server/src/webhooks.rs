//! Start-up of connection events (SPEC §12): `WEBHOOK_URLS` and `WEBHOOK_SECRET` checked
//! (a malformed value stops the start, naming the setting, never the value), and the
//! background tasks every replica runs: the delivery worker and, on PostgreSQL, the
//! `LISTEN` task feeding the live bus.

use std::future::Future;
use std::time::Duration;

use events::delivery::{self, DeliverySettings};
use events::schedule::Schedule;
use events::{Events, WebhookSecret};
use sea_orm::{DatabaseConnection, DbBackend};
use secrecy::ExposeSecret as _;

use crate::config::Config;

/// Checks the webhook settings; the worker's settings.
pub fn settings(config: &Config) -> anyhow::Result<DeliverySettings> {
    let urls: Vec<String> = config
        .webhook_urls
        .iter()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .collect();
    for url in &urls {
        let valid = reqwest::Url::parse(url)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        anyhow::ensure!(
            valid,
            "WEBHOOK_URLS holds an entry that is not an http(s) URL"
        );
    }
    let secret = config
        .webhook_secret
        .as_ref()
        .map(|secret| WebhookSecret::parse(secret.expose_secret()))
        .transpose()?;
    anyhow::ensure!(
        urls.is_empty() || secret.is_some(),
        "WEBHOOK_URLS is set but WEBHOOK_SECRET is not"
    );
    Ok(DeliverySettings {
        urls,
        secret,
        timeout: Duration::from_secs(config.limits.idp_timeout_seconds.max(1)),
        poll_interval: Duration::try_from_secs_f64(config.webhook_poll_interval_seconds)
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(10)),
        schedule: Schedule::scaled(config.webhook_retry_scale),
        batch: 16,
    })
}

/// Starts the delivery worker and, on PostgreSQL, the listener; both stop when
/// `shutdown` resolves (a clone of it is awaited by each).
pub fn spawn(
    db: &DatabaseConnection,
    events: &Events,
    settings: DeliverySettings,
    shutdown: impl Future<Output = ()> + Clone + Send + 'static,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = vec![tokio::spawn(delivery::run(
        db.clone(),
        settings,
        events.bus().arrivals(),
        shutdown.clone(),
    ))];
    if db.get_database_backend() == DbBackend::Postgres {
        tasks.push(tokio::spawn(events::listen::run(
            db.clone(),
            events.bus().clone(),
            shutdown,
        )));
    }
    tasks
}
