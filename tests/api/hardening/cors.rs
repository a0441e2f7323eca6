//! SPEC §1 CORS: configured Space UI origins may call the API from a browser; the
//! preflight allows `SPACE_GUID`, `Authorization`, `Content-Type` and `Accept`.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::helpers::*;

backend_tests!(
    a_preflight_from_a_configured_origin_allows_the_space_guid_header,
    a_preflight_from_another_origin_is_not_allowed,
    a_cross_origin_post_exposes_the_request_id,
);

const UI: &str = "https://space-ui.example.com";

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        c.cors_allowed_origins = vec![UI.to_owned(), "https://other-ui.example.com".to_owned()];
    })
    .await
}

async fn preflight(app: &TestApp, origin: &str) -> (StatusCode, HeaderMap) {
    let request = app
        .request(Method::OPTIONS, "/graphql")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "space_guid, authorization, content-type, accept",
        );
    let (status, headers, _) = app::send(request).await;
    (status, headers)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn a_preflight_from_a_configured_origin_allows_the_space_guid_header(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (status, headers) = preflight(&app, UI).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), UI);
    let allowed = header(&headers, "access-control-allow-headers").to_ascii_lowercase();
    for name in ["space_guid", "authorization", "content-type", "accept"] {
        assert!(allowed.contains(name), "{name} missing from {allowed}");
    }
    assert!(header(&headers, "access-control-allow-methods").contains("POST"));
}

async fn a_preflight_from_another_origin_is_not_allowed(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (_, headers) = preflight(&app, "https://evil.example.com").await;
    assert!(
        headers.get("access-control-allow-origin").is_none(),
        "{headers:?}"
    );
}

async fn a_cross_origin_post_exposes_the_request_id(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let request = app
        .request(Method::POST, "/graphql")
        .header("Origin", UI)
        .header("Authorization", format!("Bearer {}", alice.token))
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&serde_json::json!({ "query": FIND, "variables": { "input": key_input(SAMPLE_SPACE) } }));
    let (status, headers, body) = app::send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(header(&headers, "access-control-allow-origin"), UI);
    assert!(header(&headers, "access-control-expose-headers").contains("x-request-id"));
}
