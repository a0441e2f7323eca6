//! Tests of metadata parsing and of the discovery cache (time paused by tokio).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

const DOC: &str = r#"{
  "issuer": "https://login.example/tenant/v2.0",
  "authorization_endpoint": "https://login.example/tenant/oauth2/v2.0/authorize",
  "token_endpoint": "https://login.example/tenant/oauth2/v2.0/token",
  "jwks_uri": "https://login.example/keys"
}"#;

fn ok(body: &str) -> Result<HttpResponse, std::io::Error> {
    Ok(oauth2::http::Response::builder()
        .status(200)
        .body(body.as_bytes().to_vec())
        .unwrap())
}

fn cache() -> DiscoveryCache {
    DiscoveryCache::new(NonZeroUsize::new(8).unwrap(), Duration::from_secs(7200))
}

#[test]
fn a_metadata_document_gives_both_endpoints() {
    let metadata = parse_metadata(DOC.as_bytes()).unwrap();
    assert_eq!(
        metadata.issuer.as_deref(),
        Some("https://login.example/tenant/v2.0")
    );
    assert_eq!(
        metadata.authorization_endpoint.as_deref(),
        Some("https://login.example/tenant/oauth2/v2.0/authorize")
    );
    assert_eq!(
        metadata.token_endpoint,
        "https://login.example/tenant/oauth2/v2.0/token"
    );
}

#[test]
fn unusable_documents_are_refused() {
    for body in [
        "",
        "[]",
        r#"{"issuer":"x"}"#,
        r#"{"token_endpoint":"/relative"}"#,
        r#"{"token_endpoint":"javascript:alert(1)"}"#,
        r#"{"token_endpoint":"https://a/t","authorization_endpoint":5}"#,
    ] {
        assert!(
            matches!(
                parse_metadata(body.as_bytes()),
                Err(DiscoveryError::Invalid(_))
            ),
            "{body}"
        );
    }
    let minimal = parse_metadata(br#"{"token_endpoint":"https://a/t"}"#).unwrap();
    assert_eq!(minimal.authorization_endpoint, None);
}

#[tokio::test(start_paused = true)]
async fn a_document_is_cached_for_at_most_an_hour() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let fetch = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        ok(DOC)
    };
    cache.get("https://d/1", fetch).await.unwrap();
    tokio::time::advance(Duration::from_secs(3599)).await;
    cache.get("https://d/1", fetch).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    cache.get("https://d/1", fetch).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the 2 h TTL asked for is cut to 1 h"
    );
    cache.get("https://d/2", fetch).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "keyed by URL");
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_share_one_fetch() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let fetch = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        ok(DOC)
    };
    let (a, b, c) = tokio::join!(
        cache.get("https://d/1", fetch),
        cache.get("https://d/1", fetch),
        cache.get("https://d/1", fetch),
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(a.unwrap(), b.unwrap());
    assert!(c.is_ok());
}

#[tokio::test(start_paused = true)]
async fn failures_are_shared_with_waiters_but_not_cached() {
    let cache = cache();
    let calls = AtomicUsize::new(0);
    let failing = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        Err::<HttpResponse, _>(std::io::Error::other("refused by policy"))
    };
    let (a, b) = tokio::join!(
        cache.get("https://d/1", failing),
        cache.get("https://d/1", failing)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.unwrap_err(),
        DiscoveryError::Fetch("refused by policy".into())
    );
    assert!(b.is_err());
    let status = || async {
        Ok::<_, std::io::Error>(
            oauth2::http::Response::builder()
                .status(404)
                .body(Vec::new())
                .unwrap(),
        )
    };
    assert_eq!(
        cache.get("https://d/1", status).await.unwrap_err(),
        DiscoveryError::Status(404)
    );
    assert!(cache.get("https://d/1", || async { ok(DOC) }).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_fetch_lets_the_next_request_fetch_again() {
    let cache = cache();
    let hanging = || std::future::pending::<Result<HttpResponse, std::io::Error>>();
    let cancelled =
        tokio::time::timeout(Duration::from_secs(1), cache.get("https://d/1", hanging)).await;
    assert!(cancelled.is_err());
    let calls = AtomicUsize::new(0);
    let fetch = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        ok(DOC)
    };
    assert!(cache.get("https://d/1", fetch).await.is_ok());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
