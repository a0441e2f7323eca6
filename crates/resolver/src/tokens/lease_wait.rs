//! How long one request may wait for refresh leases that another task holds (SPEC §13).
//!
//! Without a bound, each aliased token read or refresh of one operation would poll the
//! database for a whole lease wait of its own: a few requests of twenty aliases could
//! hold the pool for minutes. All root fields of a request share one deadline, set when
//! the first of them finds a lease busy, and they wait one at a time, so a request polls
//! from one place and waits one lease wait in all.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

/// The lease waiting left to one HTTP request; the server puts one in each request's
/// data (its clones, given to the operations of a batch, share it).
#[derive(Debug, Default, Clone)]
pub struct LeaseWaitBudget(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    deadline: OnceLock<Instant>,
    turn: Mutex<()>,
}

impl LeaseWaitBudget {
    /// The request's budget, or a fresh one where the server gave none.
    pub fn of(ctx: &async_graphql::Context<'_>) -> Self {
        ctx.data_opt::<Self>().cloned().unwrap_or_default()
    }

    /// The request's deadline: `wait` from the first call on.
    pub fn deadline(&self, wait: Duration) -> Instant {
        *self.0.deadline.get_or_init(|| Instant::now() + wait)
    }

    /// The right to wait, held by one root field at a time; `None` once the deadline
    /// has passed while another field waited.
    pub async fn turn(&self, deadline: Instant) -> Option<MutexGuard<'_, ()>> {
        tokio::time::timeout_at(deadline, self.0.turn.lock())
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_set_once_for_the_whole_request() {
        let budget = LeaseWaitBudget::default();
        let first = budget.deadline(Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(budget.deadline(Duration::from_secs(3)), first);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_waiter_gets_no_turn_after_the_deadline() {
        let budget = LeaseWaitBudget::default();
        let deadline = budget.deadline(Duration::from_secs(3));
        let held = budget.turn(deadline).await;
        assert!(held.is_some());
        assert!(budget.turn(deadline).await.is_none());
        drop(held);
        assert!(budget.turn(deadline).await.is_some());
    }
}
