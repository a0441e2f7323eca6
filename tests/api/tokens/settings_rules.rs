//! The SPEC §10 rules that fix what reviewers found: a settings change deletes the held
//! token at once (and never revives it; an old copy of the record can neither store
//! over nor delete a newer token), Reset also drops client secrets vaulted inside the
//! details, secret-named `authParams` never reach an authorization URL, and an
//! `accessTokenParams` name the grant sets itself is refused, never silently dropped.

use std::time::Duration;

use sea_orm::EntityTrait as _;
use serde_json::json;

use super::*;
use crate::helpers::logs;
use crate::idp_double::{CLIENT_SECRET, PASSWORD, USERNAME};

backend_tests!(
    a_settings_change_deletes_the_held_token_and_changing_back_does_not_revive_it,
    a_generation_under_old_settings_does_not_store_its_token,
    a_refresh_under_old_settings_does_not_delete_the_newer_token,
    reset_also_drops_client_secrets_vaulted_inside_the_details,
    a_secret_named_auth_param_is_refused_at_generation,
    an_access_token_param_the_grant_sets_itself_is_refused_by_name,
);

async fn pending_states(app: &TestApp) -> usize {
    entity::oauth_state::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

async fn a_settings_change_deletes_the_held_token_and_changing_back_does_not_revive_it(
    backend: Backend,
) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let original = details(&idp, json!({}));
    let key = json!({ "input": key_input(SAMPLE_SPACE) });
    for (setting, value) in [
        ("scope", json!("read")),
        ("refreshTokenURL", json!(idp.url("/v2/token"))),
        ("provider", json!("box")),
    ] {
        save_connector(&ui, &original).await;
        assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
        let start = generate(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
        assert!(start.get("errors").is_none(), "{start}");
        assert!(token_row(&app).await.is_some());
        assert_eq!(pending_states(&app).await, 1);

        let record = save_connector(&ui, &details(&idp, json!({ setting: value }))).await;
        assert_eq!(record["isTokenGenerated"], false, "{setting}");
        assert!(
            token_row(&app).await.is_none(),
            "{setting}: the token is gone at once"
        );
        assert_eq!(pending_states(&app).await, 0, "{setting}");

        // Back to the settings the token was issued under: it stays gone.
        save_connector(&ui, &original).await;
        let status = ui.data(STATUS, key.clone()).await;
        assert!(
            status["IPackInstanceOAuthConnectorDetails"]["tokenStatus"].is_null(),
            "{setting}: {status}"
        );
        let (_, _, body) = runtime(&app, ACCOUNT, SAMPLE_SPACE)
            .graphql(TOKEN, key.clone())
            .await;
        assert_code(&body, "NOT_FOUND");
    }
}

async fn a_generation_under_old_settings_does_not_store_its_token(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    idp.set(|knobs| knobs.delay = Duration::from_millis(1200));
    let generating = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS"));
    let changing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        save_connector(&ui, &details(&idp, json!({ "scope": "other" }))).await
    };
    let (body, _) = tokio::join!(generating, changing);
    assert_code(&body, "INVALID_OAUTH_CONNECTOR_DETAILS");
    assert_eq!(idp.requests().len(), 1, "the request was sent");
    assert!(token_row(&app).await.is_none());
    assert!(!app.records().await[0].is_token_generated);
}

async fn a_refresh_under_old_settings_does_not_delete_the_newer_token(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let input = generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", USERNAME)
        .with("password", PASSWORD);
    assert_generated(&generate(&ui, input).await);

    // A refresh reads the record and waits on a slow IdP; meanwhile the settings
    // change and a new token is generated under them.
    idp.set(|knobs| knobs.delay = Duration::from_millis(1500));
    let key = json!({ "input": key_input(SAMPLE_SPACE) });
    let refreshing = ui.graphql(REFRESH, key.clone());
    let replacing = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        idp.set(|knobs| knobs.delay = Duration::ZERO);
        save_connector(&ui, &details(&idp, json!({ "scope": "other" }))).await;
        let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
        assert_generated(&body);
    };
    let ((_, _, refreshed), ()) = tokio::join!(refreshing, replacing);
    assert!(refreshed.get("errors").is_some(), "{refreshed}");

    let newest = idp.last_access_token().unwrap();
    let row = token_row(&app)
        .await
        .expect("the newer token is still held");
    assert_eq!(row.grant_type, "CLIENT_CREDENTIALS");
    let data = runtime(&app, ACCOUNT, SAMPLE_SPACE).data(TOKEN, key).await;
    // The slow refresh issued the last token but could not store it.
    assert_ne!(data["iPackInstanceOauthAccessToken"]["accessToken"], newest);
    assert_eq!(
        data["iPackInstanceOauthAccessToken"]["accessToken"],
        idp.issued_tokens()
            .into_iter()
            .filter(|t| t.starts_with("planted-access-"))
            .nth(1)
            .unwrap()
    );
}

async fn reset_also_drops_client_secrets_vaulted_inside_the_details(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let private_key = planted("private-key");
    let text = details(
        &idp,
        json!({
            "client_secret": CLIENT_SECRET,
            "accessTokenParams": { "private_key": private_key },
        }),
    );
    let record = ui
        .save(
            save_input(SAMPLE_SPACE)
                .with("oauthConnectorDetails", text)
                .with("clientId", idp_double::CLIENT_ID)
                .with("clientSecret", "dummyValue"),
        )
        .await;
    assert_eq!(record["isClientSecretEncrypted"], false);
    // The secret inside the details serves the grant.
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);

    let reset = ui
        .data(RESET, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        reset["resetIPackInstanceOauthClientSecret"]["isTokenGenerated"],
        false
    );
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_code(&body, "CLIENT_SECRET_REQUIRED");
    assert_eq!(idp.requests().len(), 1);

    let stored = &app.records().await[0];
    let vaulted = resolver::details::sealed::open_details(&app.vault(), stored).unwrap();
    assert!(
        !vaulted.contains_key("/client_secret"),
        "{:?}",
        vaulted.keys()
    );
    assert!(
        vaulted.contains_key("/accessTokenParams/private_key"),
        "other values stay"
    );
}

async fn a_secret_named_auth_param_is_refused_at_generation(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let secret = planted("auth-param");
    save_connector(
        &ui,
        &details(
            &idp,
            json!({ "authParams": { "prompt": "consent", "client_secret": secret } }),
        ),
    )
    .await;
    for grant in ["AUTHORIZATION_CODE", "CLIENT_CREDENTIALS"] {
        let body = generate(&ui, generate_input(SAMPLE_SPACE, grant)).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_OAUTH_CONNECTOR_DETAILS"),
            "{grant}: {body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("client_secret")
        );
        assert!(!body.to_string().contains(&secret));
    }
    assert!(idp.requests().is_empty());
    assert_eq!(pending_states(&app).await, 0);
    let dump = app.dump_database_text().await;
    assert!(!dump.contains(&secret), "the database holds the auth param");
    assert!(
        !logs::captured().contains(&secret),
        "the log holds the auth param"
    );
}

async fn an_access_token_param_the_grant_sets_itself_is_refused_by_name(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let password = planted("param-password");
    save_connector(
        &ui,
        &details(
            &idp,
            json!({ "accessTokenParams": { "password": password } }),
        ),
    )
    .await;
    // Client credentials sets no password: the saved one is sent, put back from the vault.
    assert_generated(&generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await);
    assert_eq!(idp.requests()[0].params["password"], password);

    // The password grant sets its own: refused, naming it, and nothing is sent.
    let input = generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", USERNAME)
        .with("password", PASSWORD);
    let body = generate(&ui, input).await;
    assert_code(&body, "INVALID_OAUTH_CONNECTOR_DETAILS");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("\"password\""), "{message}");
    assert!(!message.contains(&password));
    assert_eq!(idp.requests().len(), 1);

    for (name, grant) in [
        ("grant_type", "CLIENT_CREDENTIALS"),
        ("client_secret", "CLIENT_CREDENTIALS"),
        ("scope", "CLIENT_CREDENTIALS"),
        ("code_verifier", "AUTHORIZATION_CODE"),
    ] {
        save_connector(
            &ui,
            &details(&idp, json!({ "accessTokenParams": { name: "x" } })),
        )
        .await;
        let body = generate(&ui, generate_input(SAMPLE_SPACE, grant)).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_OAUTH_CONNECTOR_DETAILS"),
            "{name}: {body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(&format!("{name:?}")), "{message}");
    }
    assert_eq!(idp.requests().len(), 1, "no refused request was sent");
    let dump = app.dump_database_text().await;
    assert!(!dump.contains(&password));
    assert!(!logs::captured().contains(&password));
}
