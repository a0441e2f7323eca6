//! Bearer tokens verified recently, by their exact text. Space UIs and runtimes send the
//! same token with every request for its lifetime; checking its signature and reading
//! its claims again each time was a measurable part of a read (BENCHMARKS.md).
//!
//! Only tokens that verified are kept, in an LRU of `CAPACITY` tokens of at most
//! `MAX_TOKEN_BYTES`, each for at most `TTL` and never past its `exp`: after that it is
//! verified again in full (so an expired token is answered `TOKEN_EXPIRED` as before,
//! and a JWKS key withdrawn by the IdP stops verifying within `TTL` of the JWKS refetch).
//! The claims come from the token itself, so a token is never answered another's.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lru::LruCache;

use super::VerifiedClaims;

/// Tokens kept at once (about half a KiB each).
const CAPACITY: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};
/// How long a verified token is answered from here at most.
const TTL: Duration = Duration::from_secs(30);
/// Larger tokens are verified every time.
const MAX_TOKEN_BYTES: usize = 4096;

/// Verified tokens and their claims, until a deadline each.
pub(super) struct VerifiedTokens {
    cache: Mutex<LruCache<Box<str>, (VerifiedClaims, Instant)>>,
}

impl VerifiedTokens {
    pub(super) fn new() -> Self {
        Self {
            cache: Mutex::new(LruCache::new(CAPACITY)),
        }
    }

    /// The claims of `token` if it verified less than `TTL` ago and has not expired.
    pub(super) fn get(&self, token: &str) -> Option<VerifiedClaims> {
        let mut cache = self.cache.lock().ok()?;
        match cache.get(token) {
            Some((claims, until)) if Instant::now() < *until => Some(claims.clone()),
            Some(_) => {
                cache.pop(token);
                None
            }
            None => None,
        }
    }

    /// Keeps `token`, which just verified with `claims`.
    pub(super) fn put(&self, token: &str, claims: &VerifiedClaims) {
        if token.len() > MAX_TOKEN_BYTES {
            return;
        }
        let Some(until) = deadline(claims.expires_at, Instant::now(), unix_now()) else {
            return;
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(Box::from(token), (claims.clone(), until));
        }
    }
}

/// Until when a token expiring at `expires_at` (Unix seconds) may be answered from the
/// cache, given the time now on both clocks: `TTL` from now, never past `exp`; `None`
/// when it has expired already or names no expiry.
fn deadline(expires_at: Option<i64>, now: Instant, unix_now: i64) -> Option<Instant> {
    let left = expires_at?.checked_sub(unix_now)?;
    let left = Duration::from_secs(u64::try_from(left).ok().filter(|&s| s > 0)?);
    Some(now + left.min(TTL))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use resolver::AccountId;

    fn claims(expires_at: Option<i64>) -> VerifiedClaims {
        VerifiedClaims {
            account_id: AccountId::parse("acct".into()).unwrap(),
            spaces: None,
            scopes: vec![],
            expires_at,
        }
    }

    #[test]
    fn a_token_is_kept_for_the_ttl_at_most_and_never_past_its_exp() {
        let now = Instant::now();
        assert_eq!(deadline(Some(1_000 + 3_600), now, 1_000), Some(now + TTL));
        assert_eq!(
            deadline(Some(1_000 + 5), now, 1_000),
            Some(now + Duration::from_secs(5))
        );
        assert_eq!(deadline(Some(1_000), now, 1_000), None, "expires now");
        assert_eq!(deadline(Some(900), now, 1_000), None, "expired");
        assert_eq!(deadline(None, now, 1_000), None, "no exp");
    }

    #[test]
    fn a_verified_token_is_answered_by_its_exact_text_only() {
        let tokens = VerifiedTokens::new();
        tokens.put("a.b.c", &claims(Some(unix_now() + 3_600)));
        assert!(tokens.get("a.b.c").is_some());
        assert!(tokens.get("a.b.d").is_none());
        assert!(tokens.get("a.b.c ").is_none());
    }

    #[test]
    fn an_expired_or_oversized_token_is_not_kept() {
        let tokens = VerifiedTokens::new();
        tokens.put("old", &claims(Some(unix_now() - 1)));
        assert!(tokens.get("old").is_none());
        let big = "x".repeat(MAX_TOKEN_BYTES + 1);
        tokens.put(&big, &claims(Some(unix_now() + 3_600)));
        assert!(tokens.get(&big).is_none());
    }
}
