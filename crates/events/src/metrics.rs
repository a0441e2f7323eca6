//! Webhook metrics (SPEC §12): deliveries by outcome, the outbox depth and the age of
//! the oldest undelivered event. Labels are fixed words; never a URL or event data.

use std::time::Duration;

use chrono::Utc;
use entity::webhook_delivery::{Column, Entity};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QueryOrder as _,
};

/// Deliveries attempted, by `outcome` (`delivered`, `failed`, `abandoned`).
pub const DELIVERIES_TOTAL: &str = "spaces_oauth_webhook_deliveries_total";
/// Deliveries not yet delivered nor given up.
pub const OUTBOX_DEPTH: &str = "spaces_oauth_webhook_outbox_depth";
/// Age of the oldest pending delivery's event, in seconds (0 when none).
pub const OLDEST_UNDELIVERED: &str = "spaces_oauth_webhook_oldest_undelivered_seconds";

/// How often the gauges are read from the database.
pub(crate) const GAUGE_PERIOD: Duration = Duration::from_secs(5);

/// Counts one attempt's outcome.
pub(crate) fn delivered(outcome: &'static str) {
    metrics::counter!(DELIVERIES_TOTAL, "outcome" => outcome).increment(1);
}

/// Reads the outbox depth and the oldest pending delivery to `urls`.
pub(crate) async fn update_gauges(db: &DatabaseConnection, urls: &[String]) {
    let pending = || {
        Entity::find()
            .filter(Column::NextAttemptAt.is_not_null())
            .filter(Column::Url.is_in(urls.iter().cloned()))
    };
    let depth = pending().count(db).await;
    let oldest = pending().order_by_asc(Column::CreatedAt).one(db).await;
    match (depth, oldest) {
        (Ok(depth), Ok(oldest)) => {
            metrics::gauge!(OUTBOX_DEPTH).set(depth as f64);
            let age = oldest.map_or(0.0, |row| {
                (Utc::now() - row.created_at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!(OLDEST_UNDELIVERED).set(age);
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::debug!(%error, "cannot read the webhook outbox gauges");
        }
    }
}
