//! The "Encrypt Client Secret" and "Reset Client Secret" buttons (SPEC §3, §5).

use serde_json::json;

use super::*;
use crate::idp_double::CLIENT_SECRET;
use crate::tokens::{ACCOUNT, spawn};

backend_tests!(
    encrypt_vaults_the_client_secret_and_reset_drops_it,
    encrypt_and_reset_of_an_unknown_record_answer_not_found_and_write_nothing,
);

async fn encrypt_vaults_the_client_secret_and_reset_drops_it(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let saved = save_with_secret(&ui, &idp, "3", "dummyValue").await;
    assert_eq!(saved["isClientSecretEncrypted"], false);
    let body = client_credentials(&ui, "3").await;
    assert_eq!(error_code(&body).as_deref(), Some("CLIENT_SECRET_REQUIRED"));
    assert!(idp.requests().is_empty());

    let input = key_input(SAMPLE_SPACE).with("clientSecret", CLIENT_SECRET);
    let data = ui.data(ENCRYPT, json!({ "input": input })).await;
    let encrypted = &data["encryptIPackInstanceOauthClientSecret"];
    assert_eq!(encrypted["id"], saved["id"]);
    assert_eq!(encrypted["isClientSecretEncrypted"], true);
    assert_eq!(
        ui.find(key_input(SAMPLE_SPACE)).await["isClientSecretEncrypted"],
        true
    );
    let stored = record(&app, "3").await;
    assert_eq!(stored.client_secret, "dummyClientSecret");
    let sealed = stored.sealed_client_secret.expect("the secret is sealed");
    assert!(sealed.starts_with("k1:"), "{sealed}");
    assert!(!sealed.contains(CLIENT_SECRET));
    // The vault gives back exactly what was encrypted.
    assert_generated(&client_credentials(&ui, "3").await);
    assert_eq!(last_client_secret(&idp), CLIENT_SECRET);

    // A placeholder is not a secret to encrypt; the vault keeps what it has.
    for placeholder in ["dummyClientSecret", "dummyValue", ""] {
        let input = key_input(SAMPLE_SPACE).with("clientSecret", placeholder);
        let (_, _, body) = ui.graphql(ENCRYPT, json!({ "input": input })).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_INPUT"),
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "clientSecret");
        assert_eq!(
            record(&app, "3").await.sealed_client_secret.as_deref(),
            Some(sealed.as_str())
        );
    }

    let data = ui
        .data(RESET, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let reset = &data["resetIPackInstanceOauthClientSecret"];
    assert_eq!(reset["id"], saved["id"]);
    assert_eq!(reset["isClientSecretEncrypted"], false);
    assert_eq!(reset["isTokenGenerated"], false);
    let stored = record(&app, "3").await;
    assert_eq!(stored.sealed_client_secret, None);
    assert_eq!(stored.client_secret, "dummyClientSecret");
    assert!(crate::tokens::token_row(&app).await.is_none());
    let seen = idp.requests().len();
    let body = client_credentials(&ui, "3").await;
    assert_eq!(error_code(&body).as_deref(), Some("CLIENT_SECRET_REQUIRED"));
    assert_eq!(idp.requests().len(), seen, "no secret, no IdP request");

    // Encrypting again replaces: a wrong secret now reaches the IdP and is refused.
    let input = key_input(SAMPLE_SPACE).with("clientSecret", "not-the-secret");
    ui.data(ENCRYPT, json!({ "input": input })).await;
    let body = client_credentials(&ui, "3").await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );
    assert_eq!(
        body["errors"][0]["extensions"]["idpError"],
        "invalid_client"
    );
    assert_eq!(last_client_secret(&idp), "not-the-secret");
}

async fn encrypt_and_reset_of_an_unknown_record_answer_not_found_and_write_nothing(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let input = key_input(SAMPLE_SPACE).with("clientSecret", "s3cret-of-nobody");
    let (status, _, body) = ui.graphql(ENCRYPT, json!({ "input": input })).await;
    assert_error((status, &body), reqwest::StatusCode::OK, "NOT_FOUND");
    assert!(body["data"].is_null(), "{body}");
    let (status, _, body) = ui
        .graphql(RESET, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_error((status, &body), reqwest::StatusCode::OK, "NOT_FOUND");
    assert!(app.records().await.is_empty());

    // A record under another key of the same instance is not the one asked for.
    ui.save(save_input(SAMPLE_SPACE).with("connectionId", "other"))
        .await;
    let input = key_input(SAMPLE_SPACE).with("clientSecret", "s3cret-of-nobody");
    let (_, _, body) = ui.graphql(ENCRYPT, json!({ "input": input })).await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
    assert_eq!(app.records().await[0].sealed_client_secret, None);
}
