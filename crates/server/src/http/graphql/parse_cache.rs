//! A cache of parsed GraphQL documents keyed by their text. Space UIs and runtimes send
//! the same few documents over and over with different variables; parsing one again each
//! time was the largest single cost of a save after the database (BENCHMARKS.md).
//! Only documents that parse are kept, only up to `MAX_CACHED_QUERY_BYTES` each, in an
//! LRU of `PARSED_QUERY_CACHE_SIZE` documents; the executor still checks every request
//! (depth, complexity, validation against the schema and the request's variables).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::Request;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Larger documents are parsed every time: they are rare, and keeping them would let a
/// client fill memory with big documents: at most 256 documents of 4 KiB stay a few MB.
const MAX_CACHED_QUERY_BYTES: usize = 4 * 1024;

/// Parsed documents by query text.
pub struct ParsedQueries {
    cache: Option<Mutex<LruCache<Arc<str>, Arc<ExecutableDocument>>>>,
}

impl ParsedQueries {
    /// A cache of at most `capacity` documents; 0 turns it off.
    pub fn new(capacity: usize) -> Self {
        Self {
            cache: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))),
        }
    }

    /// Gives `request` its parsed document: from the cache, or parsed now (and kept when
    /// it parses). A document that does not parse is left for the executor to report.
    pub fn parse(&self, request: &mut Request) {
        let Some(cache) = &self.cache else {
            return;
        };
        if request.query.len() > MAX_CACHED_QUERY_BYTES {
            return;
        }
        let cached = cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(request.query.as_str()).cloned());
        if let Some(document) = cached {
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return;
        }
        let Ok(document) = request.parsed_query() else {
            return;
        };
        let document = Arc::new(document.clone());
        if let Ok(mut cache) = cache.lock() {
            cache.put(Arc::from(request.query.as_str()), document);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(store: &ParsedQueries) -> usize {
        store
            .cache
            .as_ref()
            .and_then(|c| c.lock().ok().map(|c| c.len()))
            .unwrap_or_default()
    }

    #[test]
    fn a_document_sent_again_is_taken_from_the_cache() {
        let store = ParsedQueries::new(4);
        for _ in 0..3 {
            let mut request = Request::new("query Q($x: Int) { a(x: $x) }");
            store.parse(&mut request);
            assert!(request.parsed_query().is_ok());
        }
        assert_eq!(cached(&store), 1);
    }

    #[test]
    fn documents_that_do_not_parse_or_are_large_are_not_kept() {
        let store = ParsedQueries::new(4);
        store.parse(&mut Request::new("query {"));
        let large = format!("{{ a {} }}", " ".repeat(MAX_CACHED_QUERY_BYTES));
        store.parse(&mut Request::new(large));
        assert_eq!(cached(&store), 0);
    }

    #[test]
    fn a_size_of_zero_turns_the_cache_off() {
        let store = ParsedQueries::new(0);
        store.parse(&mut Request::new("{ a }"));
        assert_eq!(cached(&store), 0);
    }
}
