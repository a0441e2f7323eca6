//! PostgreSQL `LISTEN` (SPEC §12): every replica listens on the events channel and
//! feeds what any replica committed into its own live bus, so a subscriber on replica
//! A sees an event raised on replica B. The listener reconnects by itself after a
//! connection loss; events committed meanwhile reach webhooks (the outbox) but not the
//! live subscribers of this replica.

use std::future::Future;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;

use crate::bus::{Bus, LiveEvent};
use crate::outbox::CHANNEL;

/// How long to wait before listening again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// Listens until `shutdown` resolves. `db` must be a PostgreSQL connection.
pub async fn run(db: DatabaseConnection, bus: Bus, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = listen(&db, &bus) => {}
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Listens until the listener fails (it reconnects by itself on connection loss).
async fn listen(db: &DatabaseConnection, bus: &Bus) {
    let mut listener = match PgListener::connect_with(db.get_postgres_connection_pool()).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for connection events; retrying");
            return;
        }
    };
    if let Err(error) = listener.listen(CHANNEL).await {
        tracing::warn!(%error, "cannot listen for connection events; retrying");
        return;
    }
    loop {
        match listener.recv().await {
            Ok(notification) => match serde_json::from_str::<LiveEvent>(notification.payload()) {
                Ok(event) => bus.publish(event),
                Err(error) => tracing::warn!(%error, "ignoring a malformed event notification"),
            },
            Err(error) => {
                tracing::warn!(%error, "lost the connection-events listener; retrying");
                return;
            }
        }
    }
}
