//! A `clientSecret` in a save (SPEC §5): a real one is vaulted, the "no new secret"
//! values keep what the vault holds; and planted secrets of saves, the encrypt button
//! and the IdP error path appear in neither the database, the log nor a response.

use serde_json::json;

use super::*;
use crate::helpers::logs;
use crate::idp_double::CLIENT_SECRET;
use crate::tokens::{ACCOUNT, spawn};

backend_tests!(
    a_real_client_secret_in_a_save_is_vaulted_and_placeholders_keep_it,
    planted_secrets_of_saves_appear_in_neither_the_database_nor_the_log,
    concurrent_saves_with_placeholders_all_succeed,
);

/// The UI saves details back with their placeholders; many at once, next to plain
/// saves, must all succeed (SQLite: no busy-snapshot error) and keep the vaulted value.
async fn concurrent_saves_with_placeholders_all_succeed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let details = |password: &str| {
        json!({ "baseURL": "https://example.com", "password": password }).to_string()
    };
    let connections: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    for connection in &connections {
        ui.save(
            save_input(SAMPLE_SPACE)
                .with("connectionId", connection.as_str())
                .with("oauthConnectorDetails", details("vaulted-pw").as_str()),
        )
        .await;
    }
    let mut requests = Vec::new();
    for round in 0..4 {
        for connection in &connections {
            let placeholder = save_input(SAMPLE_SPACE)
                .with("connectionId", connection.as_str())
                .with("clientId", format!("client-{round}").as_str())
                .with(
                    "oauthConnectorDetails",
                    details("dummyClientSecret").as_str(),
                );
            requests.push(ui.save_request(placeholder).send());
            let plain = save_input(SAMPLE_SPACE)
                .with("connectionId", format!("p{round}-{connection}").as_str());
            requests.push(ui.save_request(plain).send());
        }
    }
    for response in futures_join_all(requests).await {
        let response = response.unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
    }
    // Each placeholder save kept the vaulted password (it would be dropped otherwise).
    for record in app
        .records()
        .await
        .iter()
        .filter(|r| r.connection_id.starts_with('c'))
    {
        assert!(
            record.sealed_details_secrets.is_some(),
            "{}",
            record.connection_id
        );
    }
}

/// Awaits every future, concurrently.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: Vec<F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

async fn a_real_client_secret_in_a_save_is_vaulted_and_placeholders_keep_it(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let saved = save_with_secret(&ui, &idp, "3", CLIENT_SECRET).await;
    assert_eq!(saved["isClientSecretEncrypted"], true);
    let stored = record(&app, "3").await;
    assert_eq!(stored.client_secret, "dummyClientSecret");
    let sealed = stored.sealed_client_secret.expect("the secret is sealed");
    assert!(!sealed.contains(CLIENT_SECRET));
    assert_generated(&client_credentials(&ui, "3").await);
    assert_eq!(last_client_secret(&idp), CLIENT_SECRET);

    for placeholder in ["dummyClientSecret", "dummyValue", ""] {
        let again = save_with_secret(&ui, &idp, "3", placeholder).await;
        assert_eq!(again["id"], saved["id"], "{placeholder:?}");
        assert_eq!(again["isClientSecretEncrypted"], true, "{placeholder:?}");
        let stored = record(&app, "3").await;
        assert_eq!(stored.client_secret, "dummyClientSecret");
        assert_eq!(
            stored.sealed_client_secret.as_deref(),
            Some(sealed.as_str()),
            "{placeholder:?} left the vaulted secret untouched"
        );
        let seen = idp.requests().len();
        assert_generated(&client_credentials(&ui, "3").await);
        assert_eq!(idp.requests().len(), seen + 1);
        assert_eq!(last_client_secret(&idp), CLIENT_SECRET, "{placeholder:?}");
    }

    // Any other value is a new secret and replaces the vaulted one.
    let again = save_with_secret(&ui, &idp, "3", "a-rotated-secret").await;
    assert_eq!(again["isClientSecretEncrypted"], true);
    assert_ne!(
        record(&app, "3").await.sealed_client_secret.as_deref(),
        Some(sealed.as_str())
    );
    let body = client_credentials(&ui, "3").await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    assert_eq!(last_client_secret(&idp), "a-rotated-secret");

    // A first save with a placeholder vaults nothing.
    let other = save_with_secret(&ui, &idp, "4", "dummyClientSecret").await;
    assert_eq!(other["isClientSecretEncrypted"], false);
    assert_eq!(record(&app, "4").await.sealed_client_secret, None);
    let body = client_credentials(&ui, "4").await;
    assert_eq!(error_code(&body).as_deref(), Some("CLIENT_SECRET_REQUIRED"));
}

async fn planted_secrets_of_saves_appear_in_neither_the_database_nor_the_log(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let saved_secret = format!("planted-saved-secret-{nonce}");
    let encrypted_secret = format!("planted-encrypted-secret-{nonce}");
    let deleted_secret = format!("planted-deleted-secret-{nonce}");
    let deep_secret = format!("planted-deep-key-{nonce}");
    let text = details(
        &idp,
        json!({ "extra": { "list": [{ "note": "kept", "Private_Key": deep_secret }] } }),
    );
    let input = save_input(SAMPLE_SPACE)
        .with("oauthConnectorDetails", text.as_str())
        .with("clientId", crate::idp_double::CLIENT_ID)
        .with("clientSecret", saved_secret.as_str());
    let (_, _, body) = ui.graphql(SAVE, json!({ "input": input })).await;
    let masked = body["data"]["saveIPackInstanceOauthConnectorDetails"]["oauthConnectorDetails"]
        .as_str()
        .expect("the saved details")
        .to_owned();
    assert!(
        masked.contains(r#""Private_Key":"dummyClientSecret""#),
        "{masked}"
    );
    let mut responses = vec![body];

    // Saved back as returned, then a secret through the encrypt button.
    let input = save_input(SAMPLE_SPACE)
        .with("oauthConnectorDetails", masked.as_str())
        .with("clientId", crate::idp_double::CLIENT_ID)
        .with("clientSecret", "dummyClientSecret");
    responses.push(ui.graphql(SAVE, json!({ "input": input })).await.2);
    let input = key_input(SAMPLE_SPACE).with("clientSecret", encrypted_secret.as_str());
    responses.push(ui.graphql(ENCRYPT, json!({ "input": input })).await.2);
    // The IdP refuses that secret: it went out decrypted, through the error path.
    let (_, headers, body) = ui
        .graphql(
            crate::tokens::GENERATE,
            json!({ "input": generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS") }),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    assert_eq!(last_client_secret(&idp), encrypted_secret);
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();
    responses.push(body);
    // A record that held a secret, deleted again.
    let other = save_input(SAMPLE_SPACE)
        .with("connectionId", "4")
        .with("clientSecret", deleted_secret.as_str());
    responses.push(ui.graphql(SAVE, json!({ "input": other })).await.2);
    let key = key_input(SAMPLE_SPACE).with("connectionId", "4");
    responses.push(ui.graphql(DELETE, json!({ "input": key })).await.2);
    responses.push(ui.graphql(LIST, json!({ "id": "test-101" })).await.2);

    // The deep value is held (the vault opens to it), not dropped.
    let stored = record(&app, "3").await;
    let vaulted = resolver::details::sealed::open_details(&app.vault(), &stored)
        .expect("the details secrets open");
    assert!(
        vaulted.values().any(|raw| raw.contains(&deep_secret)),
        "{:?}",
        vaulted.keys()
    );

    let dump = app.dump_database_text().await;
    let log = logs::captured();
    // Both hold this test's work, so their silence about the secrets means something.
    assert!(dump.contains("dummyClientSecret"));
    assert!(dump.contains(stored.sealed_client_secret.as_deref().unwrap()));
    assert!(
        log.contains(&request_id),
        "the log lacks request {request_id}"
    );
    for secret in [
        &saved_secret,
        &encrypted_secret,
        &deleted_secret,
        &deep_secret,
    ] {
        assert!(
            !dump.contains(secret.as_str()),
            "the database holds {secret}"
        );
        assert!(!log.contains(secret.as_str()), "the log holds {secret}");
        for response in &responses {
            assert!(
                !response.to_string().contains(secret.as_str()),
                "a response holds {secret}: {response}"
            );
        }
    }
}
