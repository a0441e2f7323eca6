//! Per-account counters with a cap (open WebSockets, live subscriptions — SPEC §12):
//! a slot is taken with [`PerAccount::acquire`] and given back when its guard drops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Counts what each account holds open, up to `max`.
#[derive(Clone, Debug)]
pub struct PerAccount {
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

/// One held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    account: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl PerAccount {
    /// Allows `max` slots per account.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            held: Arc::default(),
        }
    }

    /// The most slots one account may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for `account`, or `None` when it already holds `max`.
    pub fn acquire(&self, account: &str) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(account.to_owned()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            account: account.to_owned(),
            held: self.held.clone(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&self.account) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // No entry is kept for accounts that hold nothing: the map stays small.
                held.remove(&self.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PerAccount;

    #[test]
    fn slots_are_capped_per_account_and_freed_on_drop() {
        let caps = PerAccount::new(2);
        let a1 = caps.acquire("a").unwrap();
        let _a2 = caps.acquire("a").unwrap();
        assert!(caps.acquire("a").is_none());
        assert!(caps.acquire("b").is_some());
        drop(a1);
        assert!(caps.acquire("a").is_some());
    }
}
