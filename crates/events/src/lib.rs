//! Connection events (SPEC §12): the outbox written in the transaction of each change,
//! signed webhook delivery from it by every replica, and the live bus behind GraphQL
//! subscriptions (PostgreSQL `LISTEN`/`NOTIFY` across replicas; in-process on SQLite).
//!
//! A writer calls [`Events::enqueue`] inside its transaction and
//! [`Events::committed`] after the commit; the server runs [`delivery::run`] and, on
//! PostgreSQL, [`listen::run`].

pub mod bus;
pub mod delivery;
pub mod event;
pub mod listen;
pub mod metrics;
mod outbox;
pub mod quota;
pub mod schedule;
pub mod signing;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DbBackend, DbErr};

pub use bus::{Bus, LiveEvent, SlowConsumer, Subscriber, TooManySubscriptions};
pub use event::{ConnectionEvent, ConnectionStatus, EventData, EventError, EventType};
pub use outbox::{CHANNEL, Enqueued};
pub use signing::{SecretError, WebhookSecret};

/// What writers and subscribers use; cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    urls: Arc<[String]>,
    bus: Bus,
    /// True on PostgreSQL: committed events come back through `LISTEN`.
    listens: bool,
}

impl Events {
    /// Events delivered to `urls`, on `backend`, with the live bus `bus`.
    pub fn new(urls: Vec<String>, backend: DbBackend, bus: Bus) -> Self {
        Self {
            urls: urls.into(),
            bus,
            listens: backend == DbBackend::Postgres,
        }
    }

    /// Writes `event` (and a pending delivery per webhook URL) through `db`, which should
    /// be the transaction of the change the event reports (SPEC §12). Pass the result
    /// to [`committed`](Self::committed) once that transaction has committed.
    pub async fn enqueue(
        &self,
        db: &impl ConnectionTrait,
        event: ConnectionEvent,
    ) -> Result<Enqueued, DbErr> {
        outbox::write(db, &self.urls, event).await
    }

    /// Publishes a committed event to this process's live subscribers (SQLite), and wakes
    /// the webhook worker. On PostgreSQL the commit's `NOTIFY` does both, on every replica.
    pub fn committed(&self, enqueued: Enqueued) {
        if self.listens {
            self.bus.arrivals().notify_one();
        } else {
            self.bus.publish(enqueued.0);
        }
    }

    /// The live bus.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }
}
