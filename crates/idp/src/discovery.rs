//! OpenID Connect Discovery / RFC 8414 metadata (SPEC §11 `discoveryURL`): reading a
//! document, and a cache keyed by URL (at most one hour) that fetches each URL once
//! however many requests want it at the same time. The fetch is the caller's, so it
//! goes through the same outbound guards as token calls.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lru::LruCache;
use oauth2::HttpResponse;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::settings::is_http_url;

/// The longest a document is cached (SPEC §11).
pub const MAX_TTL: Duration = Duration::from_secs(60 * 60);

/// The endpoints a metadata document gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// `issuer`, as sent (reported, not enforced: the URL is given directly).
    pub issuer: Option<String>,
    /// `authorization_endpoint` (absent for IdPs without the authorization code).
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: String,
}

/// Why no metadata could be had; safe to show (no document content).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The fetch failed (the caller's transport error, as text).
    #[error("the discovery document could not be fetched: {0}")]
    Fetch(String),
    /// The document URL answered with a non-2xx status.
    #[error("the discovery document answered HTTP {0}")]
    Status(u16),
    /// The document is not usable metadata.
    #[error("the discovery document is invalid: {0}")]
    Invalid(&'static str),
}

/// Reads a metadata document: a JSON object with an http(s) `token_endpoint` and,
/// when present, an http(s) `authorization_endpoint`.
pub fn parse_metadata(body: &[u8]) -> Result<Metadata, DiscoveryError> {
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(DiscoveryError::Invalid("not a JSON object"));
    };
    let url = |key: &str| match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if is_http_url(s) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(DiscoveryError::Invalid(
            "an endpoint is not an http or https URL",
        )),
    };
    Ok(Metadata {
        issuer: doc.get("issuer").and_then(Value::as_str).map(str::to_owned),
        authorization_endpoint: url("authorization_endpoint")?,
        token_endpoint: url("token_endpoint")?
            .ok_or(DiscoveryError::Invalid("it has no token_endpoint"))?,
    })
}

type Outcome = Result<Arc<Metadata>, DiscoveryError>;

enum Slot {
    Ready {
        at: Instant,
        metadata: Arc<Metadata>,
    },
    Pending(watch::Receiver<Option<Outcome>>),
}

/// Metadata by URL. Failures are not cached: the next request fetches again. Cheap to
/// share behind an `Arc`.
pub struct DiscoveryCache {
    slots: Mutex<LruCache<String, Slot>>,
    ttl: Duration,
}

impl DiscoveryCache {
    /// A cache of at most `capacity` URLs, each kept `ttl` (cut to [`MAX_TTL`]).
    pub fn new(capacity: NonZeroUsize, ttl: Duration) -> Self {
        Self {
            slots: Mutex::new(LruCache::new(capacity)),
            ttl: ttl.min(MAX_TTL),
        }
    }

    /// The metadata at `url`: cached, awaited from a fetch already under way, or
    /// fetched now with `fetch` (called at most once, only in the last case).
    pub async fn get<F, Fut, E>(&self, url: &str, fetch: F) -> Outcome
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<HttpResponse, E>>,
        E: std::fmt::Display,
    {
        let sender = loop {
            let mut waiting = {
                let mut slots = self.lock();
                match slots.get(url) {
                    Some(Slot::Ready { at, metadata }) if at.elapsed() < self.ttl => {
                        return Ok(Arc::clone(metadata));
                    }
                    Some(Slot::Pending(receiver)) => receiver.clone(),
                    _ => {
                        let (sender, receiver) = watch::channel(None);
                        slots.put(url.to_owned(), Slot::Pending(receiver));
                        break sender;
                    }
                }
            };
            if let Ok(outcome) = waiting.wait_for(Option::is_some).await
                && let Some(outcome) = outcome.clone()
            {
                return outcome;
            }
            // The fetching task was cancelled; its guard cleared the slot: try again.
        };
        let mut guard = PendingGuard {
            cache: self,
            url,
            sender: Some(sender),
        };
        let outcome = match fetch().await {
            Err(err) => Err(DiscoveryError::Fetch(err.to_string())),
            Ok(response) if !response.status().is_success() => {
                Err(DiscoveryError::Status(response.status().as_u16()))
            }
            Ok(response) => parse_metadata(response.body()).map(Arc::new),
        };
        guard.finish(outcome.clone());
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Slot>> {
        // The map holds no invariant a panic could break half-way.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Settles a pending slot: stores a success, clears a failure, and clears the slot if
/// the fetching future is dropped before it finishes (so waiters retry).
struct PendingGuard<'a> {
    cache: &'a DiscoveryCache,
    url: &'a str,
    sender: Option<watch::Sender<Option<Outcome>>>,
}

impl PendingGuard<'_> {
    fn finish(&mut self, outcome: Outcome) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        let mut slots = self.cache.lock();
        if let Some(Slot::Pending(receiver)) = slots.peek(self.url)
            && receiver.same_channel(&sender.subscribe())
        {
            match &outcome {
                Ok(metadata) => {
                    let metadata = Arc::clone(metadata);
                    slots.put(
                        self.url.to_owned(),
                        Slot::Ready {
                            at: Instant::now(),
                            metadata,
                        },
                    );
                }
                Err(_) => {
                    slots.pop(self.url);
                }
            }
        }
        drop(slots);
        sender.send_replace(Some(outcome));
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let mut slots = self.cache.lock();
            if let Some(Slot::Pending(receiver)) = slots.peek(self.url)
                && receiver.same_channel(&sender.subscribe())
            {
                slots.pop(self.url);
            }
        }
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
