//! Secrets stay with their identity provider (SPEC §10, issue 19): a save that moves a
//! record to another IdP (token URL origins, `discoveryURL`, `provider`) without a new
//! client secret drops its vaulted secrets, so whoever can edit a record can never
//! send them to a host of their choosing. Two IdP doubles on 127.0.0.1 (different
//! ports: different origins) play the real IdP (A) and the attacker's (B).

use serde_json::{Value, json};

use super::*;
use crate::helpers::logs;
use crate::idp_double::{CLIENT_SECRET, Knobs};

backend_tests!(
    repointing_the_token_url_without_a_new_secret_drops_the_secret,
    a_vaulted_detail_value_never_reaches_the_new_idp,
    repointing_refresh_url_discovery_or_provider_drops_the_secret_too,
    a_path_change_on_the_same_origin_keeps_the_secret,
    repointing_with_a_new_client_secret_works_at_once,
    secrets_saved_before_bindings_stay_usable_after_the_upgrade,
);

/// IdP A, knowing `secret` as the client's secret, and IdP B (the attacker's), knowing
/// the double's default secret.
async fn two_idps(secret: &str) -> (IdpDouble, IdpDouble) {
    let a = IdpDouble::start_with(Knobs {
        client_secret: secret.to_owned(),
        ..Knobs::default()
    })
    .await;
    (a, IdpDouble::start().await)
}

/// Saves the sample key with `details` and `client_secret`; the record.
async fn save(ui: &Tenant<'_>, details: &str, client_secret: &str) -> Value {
    ui.save(
        save_input(SAMPLE_SPACE)
            .with("oauthConnectorDetails", details)
            .with("clientId", idp_double::CLIENT_ID)
            .with("clientSecret", client_secret),
    )
    .await
}

/// `details` (as a record returned it) with `changes` applied.
fn changed(details: &Value, changes: Value) -> String {
    let mut details: Value = serde_json::from_str(details.as_str().unwrap()).unwrap();
    if let (Value::Object(map), Value::Object(changes)) = (&mut details, changes) {
        map.extend(changes);
    }
    details.to_string()
}

/// Neither the database nor the log holds any of `secrets`.
async fn assert_nowhere(app: &TestApp, secrets: &[&str]) {
    let dump = app.dump_database_text().await;
    let log = logs::captured();
    for secret in secrets {
        assert!(!dump.contains(secret), "the database holds {secret}");
        assert!(!log.contains(secret), "the log holds {secret}");
    }
}

async fn repointing_the_token_url_without_a_new_secret_drops_the_secret(backend: Backend) {
    let secret_a = planted("idp-a-secret");
    let (a, b) = two_idps(&secret_a).await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let record = save(&ui, &details(&a, json!({})), &secret_a).await;
    assert_eq!(record["isClientSecretEncrypted"], true);
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);

    let moved = changed(
        &record["oauthConnectorDetails"],
        json!({ "accessTokenURL": b.url("/token") }),
    );
    let record = save(&ui, &moved, "dummyClientSecret").await;
    assert_eq!(record["isClientSecretEncrypted"], false, "{record}");
    assert_eq!(
        ui.find(key_input(SAMPLE_SPACE)).await["isClientSecretEncrypted"],
        false
    );
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_code(&body, "CLIENT_SECRET_REQUIRED");
    assert!(b.requests().is_empty(), "IdP B was called");
    assert_eq!(a.requests().len(), 1);
    let stored = &app.records().await[0];
    assert!(stored.sealed_client_secret.is_none());
    assert_nowhere(&app, &[&secret_a]).await;

    // Pointing back at A does not bring the secret back either.
    let record = save(&ui, &details(&a, json!({})), "dummyClientSecret").await;
    assert_eq!(record["isClientSecretEncrypted"], false);
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_code(&body, "CLIENT_SECRET_REQUIRED");
}

async fn a_vaulted_detail_value_never_reaches_the_new_idp(backend: Backend) {
    let secret_a = planted("idp-a-secret");
    let private_key = planted("private-key");
    let (a, b) = two_idps(&secret_a).await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let params =
        json!({ "accessTokenParams": { "audience": "api://spaces", "private_key": private_key } });
    let record = save(&ui, &details(&a, params), &secret_a).await;
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
    assert_eq!(a.requests()[0].params["private_key"], private_key);

    // Repointed with the details as they were returned (placeholders), then a new
    // client secret entered with the Encrypt button.
    let moved = changed(
        &record["oauthConnectorDetails"],
        json!({ "accessTokenURL": b.url("/token"), "authorizationTokenURL": b.url("/authorize") }),
    );
    assert!(moved.contains("dummyClientSecret"));
    save(&ui, &moved, "dummyClientSecret").await;
    let encrypt = json!({ "input": key_input(SAMPLE_SPACE).with("clientSecret", CLIENT_SECRET) });
    assert_eq!(
        ui.data(ENCRYPT, encrypt).await["encryptIPackInstanceOauthClientSecret"]["isClientSecretEncrypted"],
        true
    );
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);

    let seen = b.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].params["client_secret"], CLIENT_SECRET);
    assert_eq!(seen[0].params["audience"], "api://spaces");
    assert!(
        !seen[0].params.contains_key("private_key"),
        "a placeholder without a vaulted value is sent as nothing: {:?}",
        seen[0].params
    );
    for request in &seen {
        assert!(
            !request
                .params
                .values()
                .any(|v| v == &private_key || v == &secret_a)
        );
    }
    assert_nowhere(&app, &[&secret_a, &private_key]).await;
}

async fn repointing_refresh_url_discovery_or_provider_drops_the_secret_too(backend: Backend) {
    let secret_a = planted("idp-a-secret");
    let (a, b) = two_idps(&secret_a).await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let well_known = "/.well-known/openid-configuration";
    let cases = [
        ("refreshTokenURL", a.url("/token"), b.url("/token")),
        ("discoveryURL", a.url(well_known), b.url(well_known)),
        ("provider", "box".to_owned(), "google".to_owned()),
    ];
    for (key, from, to) in cases {
        let connection = format!("moved-{key}");
        let saved = ui
            .save(
                save_input(SAMPLE_SPACE)
                    .with("connectionId", connection.as_str())
                    .with("oauthConnectorDetails", details(&a, json!({ key: from })))
                    .with("clientId", idp_double::CLIENT_ID)
                    .with("clientSecret", secret_a.as_str()),
            )
            .await;
        assert_eq!(saved["isClientSecretEncrypted"], true);
        let input = generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")
            .with("connectionId", connection.as_str());
        assert_generated(&generate(&ui, input.clone()).await);

        let moved = changed(&saved["oauthConnectorDetails"], json!({ key: to }));
        let saved = ui
            .save(
                save_input(SAMPLE_SPACE)
                    .with("connectionId", connection.as_str())
                    .with("oauthConnectorDetails", moved)
                    .with("clientId", idp_double::CLIENT_ID)
                    .with("clientSecret", "dummyClientSecret"),
            )
            .await;
        assert_eq!(saved["isClientSecretEncrypted"], false, "{key}");
        let body = generate(&ui, input).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("CLIENT_SECRET_REQUIRED"),
            "{key}: {body}"
        );
    }
    assert!(b.requests().is_empty());
    assert_eq!(a.requests().len(), 3);
    assert_nowhere(&app, &[&secret_a]).await;
}

async fn a_path_change_on_the_same_origin_keeps_the_secret(backend: Backend) {
    let secret_a = planted("idp-a-secret");
    let (a, _b) = two_idps(&secret_a).await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let record = save(&ui, &details(&a, json!({})), &secret_a).await;
    let moved = changed(
        &record["oauthConnectorDetails"],
        json!({ "accessTokenURL": a.url("/v2/token") }),
    );
    let record = save(&ui, &moved, "dummyClientSecret").await;
    assert_eq!(record["isClientSecretEncrypted"], true, "{record}");
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
    let seen = a.requests();
    assert_eq!(seen[0].path, "/v2/token");
    assert_eq!(seen[0].params["client_secret"], secret_a);
}

async fn repointing_with_a_new_client_secret_works_at_once(backend: Backend) {
    let secret_a = planted("idp-a-secret");
    let private_key = planted("private-key");
    let (a, b) = two_idps(&secret_a).await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let params = json!({ "accessTokenParams": { "private_key": private_key } });
    let record = save(&ui, &details(&a, params), &secret_a).await;

    // One save: B's URLs, the details' placeholders as returned, and B's secret.
    let moved = changed(
        &record["oauthConnectorDetails"],
        json!({ "accessTokenURL": b.url("/token"), "authorizationTokenURL": b.url("/authorize") }),
    );
    let record = save(&ui, &moved, CLIENT_SECRET).await;
    assert_eq!(record["isClientSecretEncrypted"], true);
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
    let seen = b.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].params["client_secret"], CLIENT_SECRET);
    assert!(
        !seen[0].params.contains_key("private_key"),
        "{:?}",
        seen[0].params
    );
    assert!(a.requests().is_empty());
    assert_nowhere(&app, &[&secret_a, &private_key]).await;
}

async fn secrets_saved_before_bindings_stay_usable_after_the_upgrade(backend: Backend) {
    use sea_orm::{ConnectionTrait as _, Statement};

    let (a, _b) = two_idps(CLIENT_SECRET).await;
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    save(
        &app.tenant(ACCOUNT, SAMPLE_SPACE),
        &details(&a, json!({})),
        CLIENT_SECRET,
    )
    .await;
    // As a row written before the binding column existed.
    let db = app.db();
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        "UPDATE connector_details SET secret_binding = NULL",
    ))
    .await
    .unwrap();
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("CLIENT_SECRET_REQUIRED"),
        "an unbound secret is never used: {body}"
    );

    // The start-up backfill binds it to the IdP its details name.
    app.restart().await;
    assert!(app.records().await[0].secret_binding.is_some());
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
    assert_eq!(a.requests().len(), 1);
}
