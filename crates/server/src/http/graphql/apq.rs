//! Automatic persisted queries, the Apollo protocol: a Space UI sends
//! `extensions.persistedQuery {version: 1, sha256Hash}` without the query; an unknown
//! hash is answered `PersistedQueryNotFound`, and the client retries with the query and
//! the hash, which is checked and remembered (an LRU of `APQ_CACHE_SIZE` queries and
//! `APQ_CACHE_BYTES` bytes of query text).
//!
//! SPEC §13: a query is remembered only once its sender is authenticated (anonymous
//! callers cannot fill the cache), and only up to [`MAX_DOCUMENT_BYTES`]; a larger one
//! still runs, it is just not remembered.
//!
//! Resolved here, before the operation is classified, so that a persisted mutation is
//! refused over GET like any other (SPEC §1).

use resolver::Code;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::{Name, Request, Value};
use axum::http::StatusCode;
use lru::LruCache;
use sha2::{Digest as _, Sha256};

use crate::http::error::HttpError;

const EXTENSION: &str = "persistedQuery";

/// The largest query text remembered (SPEC §13).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

/// The store of persisted queries, by SHA-256 of their text.
pub struct PersistedQueries {
    cache: Option<Mutex<Store>>,
    max_bytes: usize,
}

/// The LRU and the bytes of query text it holds.
struct Store {
    queries: LruCache<[u8; 32], Arc<str>>,
    bytes: usize,
}

/// A query to remember once its sender is authenticated.
pub struct Registration {
    hash: [u8; 32],
    query: Arc<str>,
}

impl PersistedQueries {
    /// A store of at most `capacity` queries and `max_bytes` bytes of query text;
    /// a capacity of 0 turns APQ off.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            cache: NonZeroUsize::new(capacity).map(|c| {
                Mutex::new(Store {
                    queries: LruCache::new(c),
                    bytes: 0,
                })
            }),
            max_bytes,
        }
    }

    /// Fills in the query of a request that only names its hash, and checks the hash of
    /// a request that sends both: that query is returned, to be [registered](Self::register)
    /// once the caller is authenticated. Requests without the extension pass as sent.
    pub fn resolve(&self, request: &mut Request) -> Result<Option<Registration>, HttpError> {
        let Some(extension) = request.extensions.get(EXTENSION) else {
            return Ok(None);
        };
        let Some(cache) = &self.cache else {
            return Err(HttpError::new(
                StatusCode::BAD_REQUEST,
                Code::PersistedQueryNotSupported,
                "PersistedQueryNotSupported",
            ));
        };
        let hash = requested_hash(extension)?;
        if request.query.is_empty() {
            let known = cache
                .lock()
                .ok()
                .and_then(|mut c| c.queries.get(&hash).cloned());
            return match known {
                Some(query) => {
                    request.query = query.to_string();
                    Ok(None)
                }
                // The protocol's signal to resend with the query: a GraphQL error, 200.
                None => Err(HttpError::new(
                    StatusCode::OK,
                    Code::PersistedQueryNotFound,
                    "PersistedQueryNotFound",
                )),
            };
        }
        let digest: [u8; 32] = Sha256::digest(request.query.as_bytes()).into();
        if digest != hash {
            return Err(invalid("provided sha256Hash does not match the query"));
        }
        if request.query.len() > MAX_DOCUMENT_BYTES.min(self.max_bytes) {
            return Ok(None);
        }
        Ok(Some(Registration {
            hash,
            query: Arc::from(request.query.as_str()),
        }))
    }

    /// Remembers a checked query, dropping the least recently used ones until the
    /// store is within its byte bound.
    pub fn register(&self, registration: Registration) {
        let Some(Ok(mut store)) = self.cache.as_ref().map(Mutex::lock) else {
            return;
        };
        let Registration { hash, query } = registration;
        let size = query.len();
        // `push` hands back what it displaced: the old entry of this hash, or the
        // least recently used one when the store is full by count.
        if let Some((_, displaced)) = store.queries.push(hash, query) {
            store.bytes -= displaced.len();
        }
        store.bytes += size;
        while store.bytes > self.max_bytes {
            match store.queries.pop_lru() {
                Some((_, evicted)) => store.bytes -= evicted.len(),
                None => break,
            }
        }
    }
}

/// The 32-byte hash of a `{version: 1, sha256Hash: "<64 hex>"}` extension.
fn requested_hash(extension: &Value) -> Result<[u8; 32], HttpError> {
    let Value::Object(fields) = extension else {
        return Err(invalid("extensions.persistedQuery must be an object"));
    };
    let version = fields.get(&Name::new("version"));
    if !matches!(version, Some(Value::Number(n)) if n.as_u64() == Some(1)) {
        return Err(invalid("only persisted query version 1 is supported"));
    }
    let mut hash = [0u8; 32];
    match fields.get(&Name::new("sha256Hash")) {
        Some(Value::String(text)) if hex::decode_to_slice(text, &mut hash).is_ok() => Ok(hash),
        _ => Err(invalid(
            "extensions.persistedQuery.sha256Hash must be 64 hex digits",
        )),
    }
}

fn invalid(message: &str) -> HttpError {
    HttpError::bad_request(StatusCode::BAD_REQUEST, "extensions", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, hash: &str) -> Request {
        let extensions =
            serde_json::json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
        let mut request = Request::new(query);
        request.extensions = serde_json::from_value(extensions).unwrap_or_default();
        request
    }

    #[test]
    fn an_unknown_hash_is_not_found_then_registered_then_served() {
        let store = PersistedQueries::new(10, 1024);
        let query = "{ __typename }";
        let hash = hex::encode(Sha256::digest(query));
        let missing = store.resolve(&mut request("", &hash)).err().map(|e| e.code);
        assert_eq!(missing, Some(Code::PersistedQueryNotFound));
        let checked = store.resolve(&mut request(query, &hash)).ok().flatten();
        let missing = store.resolve(&mut request("", &hash)).err().map(|e| e.code);
        assert_eq!(
            missing,
            Some(Code::PersistedQueryNotFound),
            "not before register"
        );
        store.register(checked.unwrap_or_else(|| unreachable!()));
        let mut by_hash = request("", &hash);
        assert!(store.resolve(&mut by_hash).is_ok());
        assert_eq!(by_hash.query, query);
    }

    #[test]
    fn a_hash_that_does_not_match_the_query_is_refused() {
        let store = PersistedQueries::new(10, 1024);
        let wrong = hex::encode(Sha256::digest("{ other }"));
        let refused = store.resolve(&mut request("{ __typename }", &wrong)).err();
        assert_eq!(refused.map(|e| e.status), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn the_store_stays_within_its_bytes_and_skips_big_documents() {
        let store = PersistedQueries::new(100, 100);
        let queries: Vec<String> = (0..4)
            .map(|i| format!("{{ a{i}: __typename {} }}", " ".repeat(30)))
            .collect();
        for query in &queries {
            let hash = hex::encode(Sha256::digest(query));
            if let Ok(Some(checked)) = store.resolve(&mut request(query, &hash)) {
                store.register(checked);
            }
        }
        let known = |query: &str| {
            let hash = hex::encode(Sha256::digest(query));
            store.resolve(&mut request("", &hash)).is_ok()
        };
        assert!(!known(&queries[0]), "the oldest was dropped for bytes");
        assert!(known(&queries[3]));
        let big = format!("{{ __typename {} }}", " ".repeat(MAX_DOCUMENT_BYTES));
        let hash = hex::encode(Sha256::digest(&big));
        let wide = PersistedQueries::new(100, 1 << 20);
        assert!(matches!(wide.resolve(&mut request(&big, &hash)), Ok(None)));
    }
}
