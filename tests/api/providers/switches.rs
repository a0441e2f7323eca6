//! The details switches of SPEC §11: `pkce`, `tokenRequestFormat`, `refreshTokenURL`,
//! `discoveryURL` (through the outbound guards), and their validation on save.

use serde_json::json;

use super::*;
use crate::idp_double::Knobs;

backend_tests!(
    pkce_false_sends_no_challenge_and_no_verifier,
    token_requests_are_json_when_asked,
    refreshes_go_to_a_separate_refresh_url,
    discovery_fills_both_endpoints,
    a_discovery_document_on_a_private_address_is_refused,
    switches_of_the_wrong_type_are_refused_on_save,
);

async fn pkce_false_sends_no_challenge_and_no_verifier(backend: Backend) {
    // This double refuses any PKCE parameter, as some IdPs do.
    let Some((idp, app)) = start(
        backend,
        Knobs {
            reject_pkce: true,
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({ "pkce": false })).await;
    let url = authorize(&app, &ui).await;
    assert!(
        query_of(&url)
            .iter()
            .all(|(k, _)| !k.starts_with("code_challenge")),
        "{url}"
    );
    let seen = &idp.requests()[0];
    assert_eq!(seen.grant_type, "authorization_code");
    assert!(!seen.params.contains_key("code_verifier"));
    assert_eq!(token_status(&ui).await["grantType"], "AUTHORIZATION_CODE");
}

async fn token_requests_are_json_when_asked(backend: Backend) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            require_json: true,
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // Form-encoded first: this IdP refuses it.
    save_details(&ui, &idp, json!({})).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );

    save_details(&ui, &idp, json!({ "tokenRequestFormat": "json" })).await;
    generated(&ui, password_input()).await;
    refresh(&ui).await;
    let seen = idp.requests();
    let (password, refresh) = (&seen[1], &seen[2]);
    assert_eq!(password.content_type, "application/json");
    assert_eq!(password.params["username"], idp_double::USERNAME);
    assert_eq!(password.params["audience"], "api://spaces");
    assert_eq!(password.client_auth, "body");
    assert_eq!(refresh.grant_type, "refresh_token");
    assert_eq!(refresh.content_type, "application/json");
}

async fn refreshes_go_to_a_separate_refresh_url(backend: Backend) {
    let Some((idp, app)) = start(backend, Knobs::default()).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({ "refreshTokenURL": idp.url("/refresh") })).await;
    generated(&ui, password_input()).await;
    refresh(&ui).await;
    let paths: Vec<(String, String)> = idp
        .requests()
        .into_iter()
        .map(|r| (r.grant_type, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            ("password".to_owned(), "/token".to_owned()),
            ("refresh_token".to_owned(), "/refresh".to_owned())
        ]
    );
}

async fn discovery_fills_both_endpoints(backend: Backend) {
    let Some((idp, app)) = start(backend, Knobs::default()).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let details = json!({
        "clientId": idp_double::CLIENT_ID,
        "discoveryURL": idp.url("/.well-known/openid-configuration"),
        "scope": "openid",
    });
    save_connector(&ui, &details.to_string()).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(idp.requests()[0].path, "/token");
    let url = authorize(&app, &ui).await;
    assert!(url.starts_with(&idp.url("/authorize?")), "{url}");
    assert_eq!(token_status(&ui).await["grantType"], "AUTHORIZATION_CODE");
}

async fn a_discovery_document_on_a_private_address_is_refused(backend: Backend) {
    let Some((idp, app)) = start(backend, Knobs::default()).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // The document itself on a private address: refused before anything is sent.
    let private = json!({
        "clientId": idp_double::CLIENT_ID,
        "discoveryURL": "https://10.20.30.40/.well-known/openid-configuration",
    });
    save_connector(&ui, &private.to_string()).await;
    assert_eq!(
        client_credentials_error(&ui).await.as_deref(),
        Some("INVALID_OAUTH_CONNECTOR_DETAILS")
    );
    // A document (on an allowed host) naming private endpoints: refused as well.
    let naming_private = json!({
        "clientId": idp_double::CLIENT_ID,
        "discoveryURL": idp.url("/.well-known/private"),
    });
    save_connector(&ui, &naming_private.to_string()).await;
    assert_eq!(
        client_credentials_error(&ui).await.as_deref(),
        Some("INVALID_OAUTH_CONNECTOR_DETAILS")
    );
    assert!(token_status(&ui).await.is_null());
}

async fn switches_of_the_wrong_type_are_refused_on_save(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    for bad in [
        json!({ "pkce": "false" }),
        json!({ "tokenRequestFormat": "xml" }),
        json!({ "tokenLifetimeSeconds": -5 }),
        json!({ "tokenLifetimeSeconds": "3600" }),
        json!({ "refreshTokenURL": "not a url" }),
        json!({ "discoveryURL": 7 }),
        json!({ "testURL": false }),
        json!({ "provider": "no-such-provider" }),
    ] {
        let input = save_input(SAMPLE_SPACE).with("oauthConnectorDetails", bad.to_string());
        let (_, _, body) = ui.graphql(SAVE, json!({ "input": input })).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_OAUTH_CONNECTOR_DETAILS"),
            "{bad}: {body}"
        );
    }
    assert!(app.records().await.is_empty(), "nothing was written");
    let good = json!({
        "pkce": false, "tokenRequestFormat": "json", "tokenLifetimeSeconds": 3600,
        "refreshTokenURL": "https://idp.example.com/refresh",
        "discoveryURL": "https://idp.example.com/.well-known/openid-configuration",
        "testURL": "https://api.example.com/me", "provider": "salesforce",
    });
    ui.save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", good.to_string()))
        .await;
}
