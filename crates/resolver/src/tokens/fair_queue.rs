//! The background refresher's queue (SPEC §10): refreshes wait per tenant and are
//! started in turns across tenants, with a bound on refreshes in flight per replica and
//! a smaller one per tenant, so one tenant's many slow connections always leave room
//! for another tenant's. Pure bookkeeping: the refresher starts what [`FairQueue::start_next`]
//! hands out and reports back with [`FairQueue::done`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

use uuid::Uuid;

/// Round-robin over tenants `K`, each with its own waiting line.
#[derive(Debug)]
pub struct FairQueue<K> {
    limit: usize,
    per_tenant: usize,
    lanes: HashMap<K, Lane>,
    /// Tenants in turn order; the next turn goes to the first that may start one.
    turns: VecDeque<K>,
    /// Every id waiting or running, so a scan that finds it again does not queue it twice.
    known: HashSet<Uuid>,
    running: usize,
}

#[derive(Debug, Default)]
struct Lane {
    waiting: VecDeque<Uuid>,
    running: usize,
}

impl<K: Clone + Eq + Hash> FairQueue<K> {
    /// At most `limit` in flight (at least one), and at most half of them (at least one)
    /// for one tenant while `limit` is above one.
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        Self {
            limit,
            per_tenant: (limit / 2).max(1),
            lanes: HashMap::new(),
            turns: VecDeque::new(),
            known: HashSet::new(),
            running: 0,
        }
    }

    /// Queues `id` for `tenant`; false when it is already waiting or running.
    pub fn push(&mut self, tenant: K, id: Uuid) -> bool {
        if !self.known.insert(id) {
            return false;
        }
        let lane = self.lanes.entry(tenant.clone()).or_insert_with(|| {
            self.turns.push_back(tenant);
            Lane::default()
        });
        lane.waiting.push_back(id);
        true
    }

    /// The next refresh to start, if the bounds allow one: the first tenant in turn
    /// order below its own bound with something waiting; it then goes to the back.
    pub fn start_next(&mut self) -> Option<(K, Uuid)> {
        if self.running >= self.limit {
            return None;
        }
        for _ in 0..self.turns.len() {
            let tenant = self.turns.pop_front()?;
            self.turns.push_back(tenant.clone());
            let Some(lane) = self.lanes.get_mut(&tenant) else {
                continue;
            };
            if lane.running >= self.per_tenant {
                continue;
            }
            if let Some(id) = lane.waiting.pop_front() {
                lane.running += 1;
                self.running += 1;
                return Some((tenant, id));
            }
        }
        None
    }

    /// A refresh handed out by [`start_next`](Self::start_next) has finished.
    pub fn done(&mut self, tenant: &K, id: Uuid) {
        self.known.remove(&id);
        let Some(lane) = self.lanes.get_mut(tenant) else {
            return;
        };
        lane.running = lane.running.saturating_sub(1);
        self.running = self.running.saturating_sub(1);
        if lane.running == 0 && lane.waiting.is_empty() {
            self.lanes.remove(tenant);
            self.turns.retain(|t| t != tenant);
        }
    }

    /// Refreshes in flight.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Refreshes waiting to start.
    pub fn waiting(&self) -> usize {
        self.lanes.values().map(|lane| lane.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn a_tenant_with_many_waiting_cannot_take_every_slot() {
        let mut queue = FairQueue::new(4);
        for id in ids(100) {
            queue.push("a", id);
        }
        let started: Vec<_> = std::iter::from_fn(|| queue.start_next()).collect();
        assert_eq!(started.len(), 2, "a tenant gets half the slots");
        let b = Uuid::new_v4();
        queue.push("b", b);
        assert_eq!(queue.start_next(), Some(("b", b)));
        assert_eq!(queue.running(), 3);
        assert_eq!(queue.waiting(), 98);
    }

    #[test]
    fn turns_alternate_between_tenants() {
        let mut queue = FairQueue::new(8);
        let (a, b) = (ids(3), ids(3));
        for i in 0..3 {
            queue.push("a", a[i]);
            queue.push("b", b[i]);
        }
        let order: Vec<_> = std::iter::from_fn(|| queue.start_next())
            .map(|(t, _)| t)
            .collect();
        assert_eq!(order, ["a", "b", "a", "b", "a", "b"]);
    }

    #[test]
    fn an_id_is_queued_once_until_it_is_done() {
        let mut queue = FairQueue::new(1);
        let id = Uuid::new_v4();
        assert!(queue.push("a", id));
        assert!(!queue.push("a", id));
        assert_eq!(queue.start_next(), Some(("a", id)));
        assert!(!queue.push("a", id), "running");
        assert_eq!(queue.start_next(), None, "the bound is one");
        queue.done(&"a", id);
        assert_eq!(queue.running(), 0);
        assert!(queue.push("a", id));
    }
}
