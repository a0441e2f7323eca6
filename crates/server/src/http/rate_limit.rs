//! The per-account rate limit (SPEC §8): a token bucket per account (`governor`),
//! refilled at `RATE_LIMIT_RPS` up to `RATE_LIMIT_BURST`, checked once the caller is
//! authenticated; an empty bucket answers 429 with `Retry-After` (SPEC §7).

use resolver::Code;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::error::HttpError;

/// How often buckets of accounts that went quiet are dropped.
const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(60);

/// Token buckets by account (or, for the OAuth callback, by client address); `None` when the limit is disabled (`RATE_LIMIT_RPS=0`).
pub struct RateLimiter {
    /// Keyed by a keyed hash of the account, so a check never allocates; the hasher's
    /// per-process random keys make a chosen collision with another account infeasible.
    buckets: Option<DefaultKeyedRateLimiter<u64>>,
    hasher: RandomState,
    burst: u32,
}

impl RateLimiter {
    /// Buckets refilled at `rps` per second holding up to `burst` (at least `rps`).
    pub fn new(rps: u32, burst: u32) -> Self {
        let buckets = NonZeroU32::new(rps).map(|rate| {
            let burst = NonZeroU32::new(burst.max(rps)).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            buckets,
            hasher: RandomState::new(),
            burst: burst.max(rps),
        }
    }

    /// Takes `cost` tokens (one per root field, SPEC §13) from `account`'s bucket, or
    /// says when to come back.
    pub fn check(&self, account: &str, cost: usize) -> Result<(), HttpError> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        let key = self.hasher.hash_one(account);
        // A batch larger than the bucket could never pass; it costs the whole bucket.
        let cost = u32::try_from(cost).unwrap_or(u32::MAX).clamp(1, self.burst);
        let cost = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        match buckets.check_key_n(&key, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(too_many_requests(wait))
            }
            Err(_) => Err(too_many_requests(Duration::from_secs(1))),
        }
    }

    /// Drops the state of accounts whose buckets are full again.
    fn housekeeping(&self) {
        if let Some(buckets) = &self.buckets {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }

    /// Spawns the task that keeps memory bounded by the accounts seen recently; it ends
    /// when the limiter is dropped.
    pub fn spawn_housekeeping(limiter: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(limiter);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(HOUSEKEEPING_PERIOD);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(limiter) => limiter.housekeeping(),
                    None => break,
                }
            }
        });
    }
}

fn too_many_requests(wait: Duration) -> HttpError {
    // Retry-After is in whole seconds; round up so a client that obeys it succeeds.
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HttpError {
        retry_after: Some(u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)),
        ..HttpError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::RateLimited,
            "too many requests; retry after the time in Retry-After",
        )
    }
}

/// The bucket key of a client address: an IPv4 address, or an IPv6 address's /64
/// (one host commonly holds a whole /64, so a bucket per address would not limit it).
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_gets_its_burst_then_429_with_retry_after() {
        let limiter = RateLimiter::new(1, 2);
        assert!(limiter.check("a", 1).is_ok());
        assert!(limiter.check("a", 1).is_ok());
        let refused = limiter
            .check("a", 1)
            .err()
            .map(|e| (e.status, e.retry_after));
        assert_eq!(refused, Some((StatusCode::TOO_MANY_REQUESTS, Some(1))));
        assert!(
            limiter.check("b", 1).is_ok(),
            "another account has its own bucket"
        );
    }

    #[test]
    fn zero_rps_disables_the_limit() {
        let limiter = RateLimiter::new(0, 0);
        assert!((0..1000).all(|_| limiter.check("a", 10).is_ok()));
    }

    #[test]
    fn a_batch_costs_one_token_per_operation() {
        let limiter = RateLimiter::new(1, 5);
        assert!(limiter.check("a", 5).is_ok());
        assert!(limiter.check("a", 1).is_err());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let key = |text: &str| client_key(text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), "192.0.2.1");
    }
}
