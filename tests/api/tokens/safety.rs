//! The outbound client's safety rules (SPEC §8): no redirects followed, a capped
//! response size, no proxy from the environment; and key rotation covering held tokens and pending verifiers (SPEC §5).

use sea_orm::EntityTrait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::*;

backend_tests!(
    an_idp_redirect_is_not_followed,
    an_oversized_idp_response_is_refused,
    the_environments_proxy_is_not_used_for_idp_calls,
    rotation_reencrypts_tokens_and_pending_verifiers,
);

async fn an_idp_redirect_is_not_followed(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let url = idp.url("/redirecting-token");
    save_connector(&ui, &details(&idp, json!({ "accessTokenURL": url }))).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    // The redirect points at a working token endpoint, which is never reached.
    assert!(idp.requests().is_empty());
}

async fn an_oversized_idp_response_is_refused(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let url = idp.url("/huge-token");
    save_connector(&ui, &details(&idp, json!({ "accessTokenURL": url }))).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );

    // The same answer under a larger IDP_MAX_RESPONSE_BYTES is a fine token.
    drop(ui);
    app.restart_with(|c| c.idp_max_response_bytes = 4 << 20)
        .await
        .unwrap();
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert!(body.get("errors").is_none(), "{body}");
}
async fn rotation_reencrypts_tokens_and_pending_verifiers(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "PASSWORD")
            .with("username", crate::idp_double::USERNAME)
            .with("password", crate::idp_double::PASSWORD),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    let pending = generate(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    let url = pending["data"]["generateIPackInstanceOauthAccessToken"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = idp.last_access_token().unwrap();
    drop(ui);

    let old = app
        .config
        .vault_keys
        .as_ref()
        .unwrap()
        .expose_secret()
        .to_owned();
    let new = resolver::Vault::generate_key_entry("k2");
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(format!("{new},{old}"))))
        .await
        .unwrap();
    let report = resolver::key_rotation::rotate(app.db(), &app.vault(), 10)
        .await
        .unwrap();
    assert!(report.records_rotated >= 3, "{report:?}");
    let token = entity::oauth_token::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(token.sealed_access_token.starts_with("k2:"));
    assert!(token.sealed_refresh_token.unwrap().starts_with("k2:"));
    let state = entity::oauth_state::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(state.sealed_pkce_verifier.starts_with("k2:"));

    // Only the new key now: the server starts, and both secrets still open.
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(new)))
        .await
        .unwrap();
    let data = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(data["iPackInstanceOauthAccessToken"]["accessToken"], held);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let callback = app
        .request(reqwest::Method::GET, "/oauth2/callback")
        .query(&location.query_pairs().into_owned().collect::<Vec<_>>())
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), reqwest::StatusCode::OK);
}

async fn the_environments_proxy_is_not_used_for_idp_calls(backend: Backend) {
    // A "proxy" that counts the connections it is offered.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("cannot bind the proxy");
    let proxy_url = format!("http://{}", proxy.local_addr().expect("proxy address"));
    let offered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&offered);
    let proxy_task = tokio::spawn(async move {
        while proxy.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let idp = IdpDouble::start().await;
    // The real binary: the environment is the process's own.
    let Some(app) = spawn_process(
        backend,
        &[
            ("HTTP_PROXY", &proxy_url),
            ("HTTPS_PROXY", &proxy_url),
            ("ALL_PROXY", &proxy_url),
            ("http_proxy", &proxy_url),
            ("https_proxy", &proxy_url),
        ],
    )
    .await
    else {
        proxy_task.abort();
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_generated(&body);
    assert_eq!(idp.started_requests(), 1);
    assert_eq!(
        offered.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the IdP call went through the environment's proxy"
    );
    proxy_task.abort();
}
