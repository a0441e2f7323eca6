//! The live bus (SPEC §12 subscriptions): committed events fanned out to the
//! subscribers of this process through a bounded `tokio` broadcast channel. On
//! PostgreSQL the events of every replica arrive through `LISTEN` ([`crate::listen`]);
//! on SQLite the writer publishes after its commit ([`crate::Events::committed`]).
//! A subscriber that falls behind the channel's capacity is told so and dropped,
//! never buffered without limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast};

use crate::event::ConnectionEvent;
use crate::quota::{PerAccount, Slot};

/// Events held for subscribers that have not read them yet; a subscriber further
/// behind than this is disconnected.
pub const CAPACITY: usize = 256;

/// An event as it travels on the bus (and in a `NOTIFY` payload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// The outbox id (the `webhook-id`).
    pub id: String,
    pub event: ConnectionEvent,
}

/// The in-process fan-out; cheap to clone.
#[derive(Clone, Debug)]
pub struct Bus {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    subscriptions: PerAccount,
    /// Woken whenever an event arrives, so the webhook worker delivers at once.
    arrived: Arc<Notify>,
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error)]
#[error("at most {0} live subscriptions per account")]
pub struct TooManySubscriptions(pub usize);

/// One subscriber: its receiver and its slot under the per-account cap.
#[derive(Debug)]
pub struct Subscriber {
    pub receiver: broadcast::Receiver<Arc<LiveEvent>>,
    _slot: Slot,
}

/// Set by a subscription that fell behind; the transport closes the socket on it.
#[derive(Clone, Debug, Default)]
pub struct SlowConsumer(Arc<(Notify, AtomicBool)>);

impl SlowConsumer {
    /// Marks the connection as too slow.
    pub fn trip(&self) {
        self.0.1.store(true, Ordering::Relaxed);
        self.0.0.notify_one();
    }

    /// True once [`trip`](Self::trip) was called.
    pub fn is_tripped(&self) -> bool {
        self.0.1.load(Ordering::Relaxed)
    }

    /// Resolves once [`trip`](Self::trip) was called.
    pub async fn tripped(&self) {
        self.0.0.notified().await;
    }
}

impl Bus {
    /// A bus allowing `max_subscriptions` live subscriptions per account.
    pub fn new(max_subscriptions: usize) -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            subscriptions: PerAccount::new(max_subscriptions),
            arrived: Arc::default(),
        }
    }

    /// Hands `event` to every current subscriber of this process.
    pub fn publish(&self, event: LiveEvent) {
        // No subscriber is not an error.
        let _ = self.sender.send(Arc::new(event));
        self.arrived.notify_one();
    }

    /// A new subscriber for `account`, within the per-account cap.
    pub fn subscribe(&self, account: &str) -> Result<Subscriber, TooManySubscriptions> {
        let slot = self
            .subscriptions
            .acquire(account)
            .ok_or(TooManySubscriptions(self.subscriptions.max()))?;
        Ok(Subscriber {
            receiver: self.sender.subscribe(),
            _slot: slot,
        })
    }

    /// Notified when an event arrived (for the webhook worker).
    pub fn arrivals(&self) -> Arc<Notify> {
        self.arrived.clone()
    }
}
