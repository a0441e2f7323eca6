//! The authorization-code flow and its callback page (SPEC §6).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;

backend_tests!(
    authorization_code_completes_through_the_callback_once,
    the_account_callback_accepts_only_its_own_account,
    an_idp_error_is_shown_escaped_with_400_and_spends_the_state,
    an_unknown_state_is_refused_with_400,
    an_expired_state_is_refused_with_400,
    callbacks_from_one_address_over_its_rate_are_refused_with_429,
    the_callback_page_posts_only_to_the_configured_space_ui_origins,
);

async fn the_callback_page_posts_only_to_the_configured_space_ui_origins(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.cors_allowed_origins = vec!["https://ui.example.com".to_owned(), "*".to_owned()];
    })
    .await
    else {
        return;
    };
    let page = app
        .request(Method::GET, "/oauth2/callback")
        .query(&[("error", "access_denied")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("data-origins=\"https://ui.example.com\""),
        "{page}"
    );
    assert!(!page.contains("'*'"), "posts to any origin: {page}");
    assert!(page.contains("postMessage(m,t)"), "{page}");
}

async fn callbacks_from_one_address_over_its_rate_are_refused_with_429(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.callback_rate_limit_rps = 1;
        c.callback_rate_limit_burst = 2;
    })
    .await
    else {
        return;
    };
    let call = |state: &str| {
        app.request(Method::GET, "/oauth2/callback")
            .query(&[("code", "c"), ("state", state)])
            .send()
    };
    for state in ["random-1", "random-2"] {
        let response = call(state).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unknown state");
    }
    let refused = call("random-3").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("data-error=\"rate_limited\"")
    );
    // The account-scoped callback shares the address's bucket.
    let refused = app
        .request(Method::GET, "/account/acct-1/oauth2/callback")
        .query(&[("code", "c"), ("state", "random-4")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Starts the flow; the authorization URL.
pub(super) async fn start(ui: &Tenant<'_>, input: Value) -> String {
    let body = generate(ui, input).await;
    let payload = &body["data"]["generateIPackInstanceOauthAccessToken"];
    assert_eq!(payload["status"], "PENDING_AUTHORIZATION", "{body}");
    assert_eq!(payload["connectorDetails"]["isTokenGenerated"], false);
    payload["authorizationUrl"].as_str().unwrap().to_owned()
}

/// Opens the authorization URL like a browser would; the redirect's query pairs.
pub(super) async fn authorize(url: &str) -> (String, Vec<(String, String)>) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let parsed = reqwest::Url::parse(&location).unwrap();
    let pairs = parsed.query_pairs().into_owned().collect();
    (parsed.path().to_owned(), pairs)
}

pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

pub(super) async fn callback(
    app: &TestApp,
    path: &str,
    query: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = app
        .request(Method::GET, path)
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

async fn authorization_code_completes_through_the_callback_once(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;

    let url = start(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    let parsed = reqwest::Url::parse(&url).unwrap();
    let query: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert!(url.starts_with(&idp.url("/authorize")));
    assert_eq!(
        param(&query, "redirect_uri"),
        "https://spaces.example.com/oauth2/callback"
    );
    assert_eq!(param(&query, "code_challenge_method"), "S256");
    assert_eq!(param(&query, "scope"), "read write");
    assert_eq!(param(&query, "prompt"), "consent");

    let (path, pairs) = authorize(&url).await;
    assert_eq!(path, "/oauth2/callback");
    let (code, state) = (param(&pairs, "code"), param(&pairs, "state"));
    let (status, page) = callback(
        &app,
        "/oauth2/callback",
        &[("code", code), ("state", state)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("access token was received and generated"));
    assert!(page.contains("window.opener"));

    let seen = &idp.requests()[0];
    assert_eq!(seen.grant_type, "authorization_code");
    assert!(!seen.params["code_verifier"].is_empty());
    let record = ui
        .data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let record = &record["IPackInstanceOAuthConnectorDetails"];
    assert_eq!(record["isTokenGenerated"], true);
    assert_eq!(record["tokenStatus"]["grantType"], "AUTHORIZATION_CODE");
    assert_eq!(record["tokenStatus"]["hasRefreshToken"], true);

    // The state is single use: the same callback again is refused, and the IdP is not
    // asked again.
    let (again, _) = callback(
        &app,
        "/oauth2/callback",
        &[("code", code), ("state", state)],
    )
    .await;
    assert_eq!(again, StatusCode::BAD_REQUEST);
    assert_eq!(idp.requests().len(), 1);
}

async fn the_account_callback_accepts_only_its_own_account(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let redirect = format!("https://spaces.example.com/account/{ACCOUNT}/oauth2/callback");
    let input =
        generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE").with("redirectUri", redirect.as_str());

    let (path, pairs) = authorize(&start(&ui, input.clone()).await).await;
    assert_eq!(path, format!("/account/{ACCOUNT}/oauth2/callback"));
    let query = [
        ("code", param(&pairs, "code")),
        ("state", param(&pairs, "state")),
    ];
    let (foreign, _) = callback(&app, "/account/someone-else/oauth2/callback", &query).await;
    assert_eq!(foreign, StatusCode::BAD_REQUEST);

    let (_, pairs) = authorize(&start(&ui, input).await).await;
    let query = [
        ("code", param(&pairs, "code")),
        ("state", param(&pairs, "state")),
    ];
    let (status, page) = callback(&app, &path, &query).await;
    assert_eq!(status, StatusCode::OK, "{page}");

    let elsewhere = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")
            .with("redirectUri", "https://evil.example/cb"),
    )
    .await;
    assert_eq!(error_code(&elsewhere).as_deref(), Some("INVALID_INPUT"));
}

async fn an_idp_error_is_shown_escaped_with_400_and_spends_the_state(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let (_, pairs) =
        authorize(&start(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await).await;
    let state = param(&pairs, "state");

    let (status, page) = callback(
        &app,
        "/oauth2/callback",
        &[
            ("error", "access_denied"),
            ("error_description", "<script>alert('x')</script> denied"),
            ("state", state),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("access_denied"));
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert"));

    let (late, _) = callback(
        &app,
        "/oauth2/callback",
        &[("code", param(&pairs, "code")), ("state", state)],
    )
    .await;
    assert_eq!(late, StatusCode::BAD_REQUEST);
    assert!(idp.requests().is_empty());
}

async fn an_unknown_state_is_refused_with_400(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let (status, page) = callback(
        &app,
        "/oauth2/callback",
        &[("code", "whatever"), ("state", "never-issued")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("window.opener"));
    let (missing, _) = callback(&app, "/oauth2/callback", &[]).await;
    assert_eq!(missing, StatusCode::BAD_REQUEST);
}

async fn an_expired_state_is_refused_with_400(backend: Backend) {
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::Expr;

    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let (_, pairs) =
        authorize(&start(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await).await;
    // Eleven minutes later, as far as the state is concerned (valid ten).
    entity::oauth_state::Entity::update_many()
        .col_expr(
            entity::oauth_state::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(app.db())
        .await
        .unwrap();
    let (status, _) = callback(
        &app,
        "/oauth2/callback",
        &[
            ("code", param(&pairs, "code")),
            ("state", param(&pairs, "state")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(idp.requests().is_empty());
}
