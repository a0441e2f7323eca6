//! Writing events (SPEC §12): the event row and one pending delivery per configured
//! webhook URL, in the caller's transaction, so an event exists exactly when its change
//! was committed. On PostgreSQL the same transaction `NOTIFY`s the live bus of every
//! replica (PostgreSQL delivers the notification at commit, and drops it on rollback).

use chrono::Utc;
use entity::{connection_event, webhook_delivery};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, EntityTrait as _, Statement};

use crate::bus::LiveEvent;
use crate::event::ConnectionEvent;

/// The `LISTEN`/`NOTIFY` channel of the live bus.
pub const CHANNEL: &str = "spaces_oauth_connection_events";

/// PostgreSQL refuses `NOTIFY` payloads of 8000 bytes or more.
const MAX_NOTIFY_BYTES: usize = 7900;

/// An event written in a transaction that has not been committed yet. Hand it to
/// [`crate::Events::committed`] after the commit; drop it if the transaction failed.
#[must_use = "pass it to Events::committed after the commit"]
#[derive(Debug)]
pub struct Enqueued(pub(crate) LiveEvent);

impl Enqueued {
    /// The event's id (its `webhook-id`).
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

/// Writes `event` and its deliveries to `urls` through `db` (a transaction).
pub(crate) async fn write(
    db: &impl ConnectionTrait,
    urls: &[String],
    event: ConnectionEvent,
) -> Result<Enqueued, DbErr> {
    let id = uuid::Uuid::new_v4();
    let now = Utc::now();
    let payload = serde_json::to_string(&event).map_err(|e| DbErr::Custom(e.to_string()))?;
    connection_event::Entity::insert(connection_event::ActiveModel {
        id: Set(id),
        event_type: Set(event.kind.as_str().to_owned()),
        payload: Set(payload),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    if !urls.is_empty() {
        let deliveries = urls.iter().map(|url| webhook_delivery::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            event_id: Set(id),
            url: Set(url.clone()),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            delivered_at: Set(None),
            last_status: Set(None),
            last_error: Set(None),
            created_at: Set(now),
        });
        webhook_delivery::Entity::insert_many(deliveries)
            .exec_without_returning(db)
            .await?;
    }
    let live = LiveEvent {
        id: id.to_string(),
        event,
    };
    if db.get_database_backend() == DbBackend::Postgres {
        notify(db, &live).await?;
    }
    Ok(Enqueued(live))
}

async fn notify(db: &impl ConnectionTrait, live: &LiveEvent) -> Result<(), DbErr> {
    let payload = serde_json::to_string(live).map_err(|e| DbErr::Custom(e.to_string()))?;
    if payload.len() > MAX_NOTIFY_BYTES {
        // Keys are at most 255 characters each, so this does not happen; were it to,
        // the webhook still goes out and only live subscribers miss the event.
        tracing::warn!(
            event_id = %live.id,
            "event too large for NOTIFY; live subscribers will not see it"
        );
        return Ok(());
    }
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

/// How often old events are removed.
pub(crate) const CLEAN_UP_PERIOD: std::time::Duration = std::time::Duration::from_secs(3600);

/// Delivered events are kept this long (for operators' questions), then removed.
const RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Removes events older than the retention with no pending delivery.
pub(crate) async fn clean_up(db: &sea_orm::DatabaseConnection) {
    use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let mut pending = Query::select();
    pending
        .column(webhook_delivery::Column::EventId)
        .from(webhook_delivery::Entity)
        .and_where(Expr::col(webhook_delivery::Column::NextAttemptAt).is_not_null());
    let removed = connection_event::Entity::delete_many()
        .filter(connection_event::Column::CreatedAt.lt(Utc::now() - RETENTION))
        .filter(connection_event::Column::Id.not_in_subquery(pending))
        .exec(db)
        .await;
    if let Err(error) = removed {
        tracing::debug!(%error, "cannot remove old connection events");
    }
}
