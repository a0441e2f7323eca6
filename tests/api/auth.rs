//! SPEC §2 identity: every way a bearer token can be wrong is a 401 with a
//! `WWW-Authenticate: Bearer` challenge and nothing written; configured RS256, ES256
//! and JWKS keys are accepted.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::jwks::JwksServer;
use crate::helpers::tokens::*;
use crate::helpers::*;

backend_tests!(
    missing_malformed_and_badly_signed_tokens_get_401_and_nothing_is_written,
    an_expired_token_gets_401_token_expired,
    an_hs256_token_is_refused_by_a_server_configured_with_an_rsa_public_key,
    rs256_and_es256_tokens_signed_by_configured_keys_are_accepted,
    wrong_or_missing_issuer_and_audience_are_refused_when_configured,
    a_jwks_url_supplies_keys_and_an_unknown_kid_refetches_the_set,
    an_endless_jwks_answer_is_cut_off_at_its_size_cap,
);

/// A JWKS endpoint that answers 200 and then sends JSON whitespace without end.
async fn endless_jwks() -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    (url, task)
}

async fn an_endless_jwks_answer_is_cut_off_at_its_size_cap(backend: Backend) {
    let (url, server) = endless_jwks().await;
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.jwt_hs256_secret = None;
        config.jwt_jwks_url = Some(url);
    })
    .await
    else {
        return;
    };
    let token = TokenBuilder::new("acct-1", "").rs256().kid("k1").sign();
    let started = std::time::Instant::now();
    let (status, _, body) = save_with(&app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Reading it whole would last until the JWKS fetch time limit (5 s).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered after {:?}",
        started.elapsed()
    );
    server.abort();
}

/// Sends the sample save with `authorization` as the header (none when `None`).
async fn save_with(app: &TestApp, authorization: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut request = app
        .request(Method::POST, "/graphql")
        .header("Accept", "application/json")
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&json!({ "query": SAVE, "variables": { "input": save_input(SAMPLE_SPACE) } }));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    app::send(request).await
}

/// Asserts the save was refused with 401, a Bearer challenge and `code`, and that
/// nothing was written (the save and a read both refused).
async fn assert_refused(app: &TestApp, label: &str, authorization: Option<&str>, code: &str) {
    let (status, headers, body) = save_with(app, authorization).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{label}: {body}");
    let challenge = headers
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{label}: no WWW-Authenticate"))
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer"), "{label}: {challenge}");
    assert_eq!(error_code(&body).as_deref(), Some(code), "{label}: {body}");
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "{label}: {body}"
    );
    assert!(
        app.records().await.is_empty(),
        "{label}: a record was written"
    );
}

async fn assert_accepted(app: &TestApp, label: &str, token: &str) {
    let (status, _, body) = save_with(app, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{label}: {body}");
    assert!(body.get("errors").is_none(), "{label}: {body}");
}

async fn missing_malformed_and_badly_signed_tokens_get_401_and_nothing_is_written(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let valid = app.token_builder("acct-1");
    let bearer = |token: String| format!("Bearer {token}");
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("empty header", Some(String::new())),
        ("scheme only", Some("Bearer".into())),
        ("scheme and blank", Some("Bearer    ".into())),
        ("garbage", Some("Bearer garbage".into())),
        ("three garbage parts", Some("Bearer a.b.c".into())),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".into())),
        ("token without scheme", Some(valid.sign())),
        (
            "wrong HS256 key",
            Some(bearer(valid.clone().hs256("not-the-secret").sign())),
        ),
        ("alg none", Some(bearer(valid.unsigned_alg_none()))),
        (
            "alg none with the real signature",
            Some(bearer({
                let signed = valid.sign();
                let signature = signed.rsplit('.').next().unwrap().to_owned();
                format!("{}{signature}", valid.unsigned_alg_none())
            })),
        ),
        (
            "HS384, an algorithm not configured",
            Some(bearer(valid.clone().algorithm(Algorithm::HS384).sign())),
        ),
        (
            "RS256 when only HS256 is configured",
            Some(bearer(valid.clone().rs256().sign())),
        ),
        (
            "not valid for another five minutes",
            Some(bearer(valid.clone().not_before_in(300).sign())),
        ),
        ("no exp", Some(bearer(valid.clone().without("exp").sign()))),
        (
            "no account",
            Some(bearer(
                valid.clone().without("accountId").without("sub").sign(),
            )),
        ),
        (
            "an account of 256 characters",
            Some(bearer(app.token_builder(&"a".repeat(256)).sign())),
        ),
        (
            "an account with a control character",
            Some(bearer(app.token_builder("acct\u{7}1").sign())),
        ),
        (
            "tampered claims",
            Some(bearer({
                let signed = valid.sign();
                let parts: Vec<&str> = signed.split('.').collect();
                let other = app.token("acct-2", None);
                let other_claims = other.split('.').nth(1).unwrap();
                format!("{}.{other_claims}.{}", parts[0], parts[2])
            })),
        ),
    ];
    for (label, authorization) in &cases {
        assert_refused(&app, label, authorization.as_deref(), "UNAUTHORIZED").await;
    }
    // The same request with a good token goes through: the refusals were about tokens.
    assert_accepted(&app, "valid", &valid.sign()).await;
    let longest = app.token_builder(&"a".repeat(255)).sign();
    assert_accepted(&app, "an account of 255 characters", &longest).await;
}

async fn an_expired_token_gets_401_token_expired(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Beyond any leeway the server may allow (at most 60 s, SPEC §2).
    let expired = app.token_builder("acct-1").expires_in(-120).sign();
    assert_refused(
        &app,
        "expired",
        Some(&format!("Bearer {expired}")),
        "TOKEN_EXPIRED",
    )
    .await;
}

async fn an_hs256_token_is_refused_by_a_server_configured_with_an_rsa_public_key(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.jwt_hs256_secret = None;
        config.jwt_public_key_file = Some(fixture_path("rsa_public.pem"));
    })
    .await
    else {
        return;
    };
    // The classic confusion: HMAC keyed with the public key's own text.
    let confused = TokenBuilder::new("acct-1", RSA_PUBLIC_PEM).sign();
    assert_refused(
        &app,
        "HS256 keyed with the public PEM",
        Some(&format!("Bearer {confused}")),
        "UNAUTHORIZED",
    )
    .await;
    let other_key = TokenBuilder::new("acct-1", "")
        .pem(Algorithm::RS256, RSA2_PRIVATE_PEM)
        .sign();
    assert_refused(
        &app,
        "RS256 by another key",
        Some(&format!("Bearer {other_key}")),
        "UNAUTHORIZED",
    )
    .await;
    let good = TokenBuilder::new("acct-1", "").rs256().sign();
    assert_accepted(&app, "RS256 by the configured key", &good).await;
}

async fn rs256_and_es256_tokens_signed_by_configured_keys_are_accepted(backend: Backend) {
    let keys = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(keys.path(), format!("{RSA_PUBLIC_PEM}\n{EC_PUBLIC_PEM}")).unwrap();
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.jwt_hs256_secret = None;
        config.jwt_public_key_file = Some(keys.path().to_owned());
    })
    .await
    else {
        return;
    };
    let rs = TokenBuilder::new("acct-rs", "")
        .rs256()
        .space(SAMPLE_SPACE)
        .sign();
    assert_accepted(&app, "RS256", &rs).await;
    let es = TokenBuilder::new("acct-es", "").es256().sign();
    assert_accepted(&app, "ES256", &es).await;
    let mut accounts: Vec<String> = app
        .records()
        .await
        .into_iter()
        .map(|r| r.account_id)
        .collect();
    accounts.sort();
    assert_eq!(accounts, ["acct-es", "acct-rs"]);
}

async fn wrong_or_missing_issuer_and_audience_are_refused_when_configured(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.jwt_issuer = Some("https://issuer.example".into());
        config.jwt_audience = Some("spaces-oauth".into());
    })
    .await
    else {
        return;
    };
    let good = app
        .token_builder("acct-1")
        .issuer("https://issuer.example")
        .audience("spaces-oauth");
    let cases = [
        ("wrong iss", good.clone().issuer("https://evil.example")),
        ("no iss", good.clone().without("iss")),
        ("wrong aud", good.clone().audience("another-service")),
        ("no aud", good.clone().without("aud")),
    ];
    for (label, token) in cases {
        let header = format!("Bearer {}", token.sign());
        assert_refused(&app, label, Some(&header), "UNAUTHORIZED").await;
    }
    let listed_aud = good.clone().claim("aud", json!(["other", "spaces-oauth"]));
    assert_accepted(&app, "aud list naming us", &listed_aud.sign()).await;
}

async fn a_jwks_url_supplies_keys_and_an_unknown_kid_refetches_the_set(backend: Backend) {
    let k1 = public_jwk(Algorithm::RS256, RSA_PRIVATE_PEM, "k1");
    let k2 = public_jwk(Algorithm::RS256, RSA2_PRIVATE_PEM, "k2");
    let jwks = JwksServer::start(vec![k1.clone()]).await;
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.jwt_hs256_secret = None;
        config.jwt_jwks_url = Some(jwks.url.clone());
    })
    .await
    else {
        return;
    };
    let by_k1 = TokenBuilder::new("acct-1", "").rs256().kid("k1").sign();
    assert_accepted(&app, "kid k1", &by_k1).await;
    let first_fetch = tokio::time::Instant::now();
    assert_eq!(jwks.fetches(), 1);

    // The IdP rotates to k2. A k2 token right away finds no key; refetches are
    // spaced out so unknown kids cannot hammer the endpoint.
    jwks.set_keys(vec![k1, k2]);
    let by_k2 = TokenBuilder::new("acct-1", "")
        .pem(Algorithm::RS256, RSA2_PRIVATE_PEM)
        .kid("k2")
        .sign();
    let hs = app.token_builder("acct-1").kid("k1").sign();
    let (status, _, _) = save_with(&app, Some(&format!("Bearer {hs}"))).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "JWKS keys never verify HMAC"
    );

    tokio::time::sleep_until(first_fetch + Duration::from_millis(10_500)).await;
    assert_accepted(&app, "kid k2 after the refetch", &by_k2).await;
    assert_eq!(jwks.fetches(), 2, "the unknown kid fetched the set again");
    assert_accepted(&app, "kid k1 from the cache", &by_k1).await;
    assert_eq!(jwks.fetches(), 2, "known kids are served from the cache");

    let unknown = TokenBuilder::new("acct-1", "")
        .pem(Algorithm::RS256, RSA2_PRIVATE_PEM)
        .kid("k9")
        .sign();
    let (status, _, body) = save_with(&app, Some(&format!("Bearer {unknown}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}
