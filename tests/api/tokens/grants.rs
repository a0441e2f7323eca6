//! Generation with each grant (SPEC §6), the connector matrix, and IdP failures.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::helpers::tokens::{RSA_PRIVATE_PEM, RSA_PUBLIC_PEM, RSA2_PRIVATE_PEM};
use crate::idp_double::{Knobs, PASSWORD, USERNAME};

backend_tests!(
    client_credentials_stores_the_token_encrypted_and_marks_the_record,
    basic_auth_scheme_sends_the_client_credentials_in_the_authorization_header,
    password_grant_uses_the_resource_owner_credentials,
    password_grant_without_a_password_names_the_field,
    jwt_bearer_sends_an_rs256_assertion_the_idp_verifies,
    jwt_bearer_signed_with_another_key_is_refused_by_the_idp,
    jwt_bearer_sends_an_unsigned_assertion_when_asked,
    grant_types_follow_the_connector_matrix,
    no_stored_secret_is_client_secret_required_and_no_record_is_not_found,
    an_idp_error_is_reported_with_its_code,
    an_unreachable_idp_fails_fast_with_idp_token_request_failed,
    a_slow_idp_fails_within_the_timeout,
    plain_http_idp_is_refused_unless_allowed,
);

fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

async fn client_credentials_stores_the_token_encrypted_and_marks_the_record(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;

    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let payload = &body["data"]["generateIPackInstanceOauthAccessToken"];
    assert_eq!(payload["status"], "GENERATED", "{body}");
    assert!(payload["authorizationUrl"].is_null());
    let record = &payload["connectorDetails"];
    assert_eq!(record["isTokenGenerated"], true);
    assert_eq!(record["tokenStatus"]["grantType"], "CLIENT_CREDENTIALS");
    assert_eq!(
        record["tokenStatus"]["tokenType"], "bearer",
        "shown as sent"
    );
    assert_eq!(record["tokenStatus"]["hasRefreshToken"], false);
    assert!(record["tokenStatus"]["expiresAt"].is_string());

    let seen = idp.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].grant_type, "client_credentials");
    assert_eq!(seen[0].client_auth, "body");
    assert_eq!(seen[0].params["scope"], "read write");
    assert_eq!(seen[0].params["audience"], "api://spaces");

    let issued = idp.last_access_token().unwrap();
    let row = token_row(&app).await.expect("a token row");
    assert!(!row.sealed_access_token.contains(&issued));
    let data = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(data["iPackInstanceOauthAccessToken"]["accessToken"], issued);
    assert_eq!(data["iPackInstanceOauthAccessToken"]["tokenType"], "bearer");
}

async fn basic_auth_scheme_sends_the_client_credentials_in_the_authorization_header(
    backend: Backend,
) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_connector(
        &ui,
        &details(&idp, json!({ "refreshAuthScheme": "basic_auth" })),
    )
    .await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
    let seen = idp.requests();
    assert_eq!(seen[0].client_auth, "basic");
    assert!(!seen[0].params.contains_key("client_secret"));
}

async fn password_grant_uses_the_resource_owner_credentials(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;

    let input = generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", USERNAME)
        .with("password", PASSWORD);
    let body = generate(&ui, input.clone()).await;
    let record = &body["data"]["generateIPackInstanceOauthAccessToken"]["connectorDetails"];
    assert_eq!(record["tokenStatus"]["grantType"], "PASSWORD", "{body}");
    assert_eq!(record["tokenStatus"]["hasRefreshToken"], true);
    assert_eq!(idp.requests()[0].params["username"], USERNAME);

    let wrong = generate(&ui, input.with("password", "not-it")).await;
    assert_eq!(
        error_code(&wrong).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );
    assert_eq!(
        first_error(&wrong)["extensions"]["idpError"],
        "invalid_grant"
    );
}

async fn password_grant_without_a_password_names_the_field(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "PASSWORD").with("username", USERNAME),
    )
    .await;
    assert_eq!(error_code(&body).as_deref(), Some("INVALID_INPUT"));
    assert_eq!(first_error(&body)["extensions"]["field"], "password");
    assert!(idp.requests().is_empty());
}

fn jwt_input(key: &str) -> Value {
    json!({ "signingKey": key, "subject": "service-user", "claims": "{\"tenant\":\"t1\"}" })
}

async fn jwt_bearer_sends_an_rs256_assertion_the_idp_verifies(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        assertion_key: Some(RSA_PUBLIC_PEM.into()),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "JWT_BEARER").with("jwt", jwt_input(RSA_PRIVATE_PEM)),
    )
    .await;
    let payload = &body["data"]["generateIPackInstanceOauthAccessToken"];
    assert_eq!(payload["status"], "GENERATED", "{body}");
    assert_eq!(
        payload["connectorDetails"]["tokenStatus"]["grantType"],
        "JWT_BEARER"
    );
    let seen = &idp.requests()[0];
    assert_eq!(
        seen.grant_type,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    assert_eq!(seen.params["audience"], "api://spaces");
}

async fn jwt_bearer_signed_with_another_key_is_refused_by_the_idp(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        assertion_key: Some(RSA_PUBLIC_PEM.into()),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "JWT_BEARER").with("jwt", jwt_input(RSA2_PRIVATE_PEM)),
    )
    .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );
    assert_eq!(
        first_error(&body)["extensions"]["idpError"],
        "invalid_grant"
    );

    let not_a_key = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "JWT_BEARER").with("jwt", jwt_input("not a pem")),
    )
    .await;
    assert_eq!(error_code(&not_a_key).as_deref(), Some("INVALID_INPUT"));
}

async fn jwt_bearer_sends_an_unsigned_assertion_when_asked(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        accept_unsigned: true,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "JWT_BEARER").with("jwt", json!({ "unsigned": true })),
    )
    .await;
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
    assert!(idp.requests()[0].params["assertion"].ends_with('.'));
}

async fn grant_types_follow_the_connector_matrix(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let matrix: [(&str, &[&str]); 7] = [
        (
            "HTTP_CLIENT",
            &["AUTHORIZATION_CODE", "PASSWORD", "CLIENT_CREDENTIALS"],
        ),
        (
            "REST_CLIENT",
            &[
                "AUTHORIZATION_CODE",
                "PASSWORD",
                "CLIENT_CREDENTIALS",
                "JWT_BEARER",
            ],
        ),
        ("AZURE_SERVICE_BUS", &["CLIENT_CREDENTIALS"]),
        ("BOX", &["AUTHORIZATION_CODE"]),
        ("QUICKBOOKS_ONLINE", &[]),
        ("SALESFORCE_PLATFORM_EVENTS", &[]),
        ("MAIL_IMAP", &[]),
    ];
    for (connector, allowed) in matrix {
        for grant in [
            "AUTHORIZATION_CODE",
            "CLIENT_CREDENTIALS",
            "PASSWORD",
            "JWT_BEARER",
        ] {
            let body = generate(
                &ui,
                generate_input(SAMPLE_SPACE, grant).with("connectorType", connector),
            )
            .await;
            let refused = error_code(&body).as_deref() == Some("GRANT_TYPE_NOT_SUPPORTED");
            assert_eq!(
                refused,
                !allowed.contains(&grant),
                "{connector} {grant}: {body}"
            );
        }
    }
}

async fn no_stored_secret_is_client_secret_required_and_no_record_is_not_found(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));

    ui.save(
        save_input(SAMPLE_SPACE)
            .with("oauthConnectorDetails", details(&idp, json!({})))
            .with("clientId", crate::idp_double::CLIENT_ID),
    )
    .await;
    for grant in ["CLIENT_CREDENTIALS", "AUTHORIZATION_CODE"] {
        let body = generate(&ui, generate_input(SAMPLE_SPACE, grant)).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("CLIENT_SECRET_REQUIRED"),
            "{grant}"
        );
    }
    assert!(idp.requests().is_empty());
}

async fn an_idp_error_is_reported_with_its_code(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        fail_with: Some((
            400,
            "invalid_scope".into(),
            "scope <write> is not allowed".into(),
        )),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );
    assert_eq!(
        first_error(&body)["extensions"]["idpError"],
        "invalid_scope"
    );
    let status = ui
        .data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let record = &status["IPackInstanceOAuthConnectorDetails"];
    assert_eq!(record["isTokenGenerated"], false);
    assert!(record["tokenStatus"].is_null());
}

async fn an_unreachable_idp_fails_fast_with_idp_token_request_failed(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    // A port that was free a moment ago: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_connector(&ui, &details(&idp, json!({ "accessTokenURL": url }))).await;
    let started = Instant::now();
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

async fn a_slow_idp_fails_within_the_timeout(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        delay: Duration::from_secs(8),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let started = Instant::now();
    let (status, _, body) = ui
        .graphql(
            GENERATE,
            json!({ "input": generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS") }),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED"),
        "{body}"
    );
    // IDP_TIMEOUT_SECONDS is 2 in these tests.
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

async fn plain_http_idp_is_refused_unless_allowed(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn_with(backend, |config| config.idp_allow_http.clear()).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("INVALID_OAUTH_CONNECTOR_DETAILS"),
        "{body}"
    );
    assert!(idp.requests().is_empty());
}
