//! Automatic persisted queries, the Apollo protocol: a Space UI sends
//! `extensions.persistedQuery {version: 1, sha256Hash}` without the query; an unknown
//! hash is answered `PersistedQueryNotFound`, and the client retries with the query and
//! the hash, which is checked and remembered (an LRU of `APQ_CACHE_SIZE` queries).
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

/// The store of persisted queries, by SHA-256 of their text.
pub struct PersistedQueries {
    cache: Option<Mutex<LruCache<[u8; 32], Arc<str>>>>,
}

impl PersistedQueries {
    /// A store of at most `capacity` queries; 0 turns APQ off.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    /// Fills in the query of a request that only names its hash, and remembers the
    /// query of a request that sends both. Requests without the extension pass as sent.
    pub fn resolve(&self, request: &mut Request) -> Result<(), HttpError> {
        let Some(extension) = request.extensions.get(EXTENSION) else {
            return Ok(());
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
            let known = cache.lock().ok().and_then(|mut c| c.get(&hash).cloned());
            return match known {
                Some(query) => {
                    request.query = query.to_string();
                    Ok(())
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
        if let Ok(mut cache) = cache.lock() {
            cache.put(hash, Arc::from(request.query.as_str()));
        }
        Ok(())
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
        let store = PersistedQueries::new(10);
        let query = "{ __typename }";
        let hash = hex::encode(Sha256::digest(query));
        let missing = store.resolve(&mut request("", &hash)).err().map(|e| e.code);
        assert_eq!(missing, Some(Code::PersistedQueryNotFound));
        assert!(store.resolve(&mut request(query, &hash)).is_ok());
        let mut by_hash = request("", &hash);
        assert!(store.resolve(&mut by_hash).is_ok());
        assert_eq!(by_hash.query, query);
    }

    #[test]
    fn a_hash_that_does_not_match_the_query_is_refused() {
        let store = PersistedQueries::new(10);
        let wrong = hex::encode(Sha256::digest("{ other }"));
        let refused = store.resolve(&mut request("{ __typename }", &wrong)).err();
        assert_eq!(refused.map(|e| e.status), Some(StatusCode::BAD_REQUEST));
    }
}
