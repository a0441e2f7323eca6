//! Each step of Test Connection passing and failing (SPEC §12): `details`,
//! `clientSecret`, `token` (held, refreshed when due, or new) and `testRequest`.

use serde_json::json;

use super::*;
use crate::helpers::tokens::{RSA_PRIVATE_PEM, RSA_PUBLIC_PEM};
use crate::idp_double::{CLIENT_SECRET, Knobs, PASSWORD, USERNAME};
use crate::tokens::{GENERATE, STATUS, generate_input};

backend_tests!(
    a_client_credentials_connection_passes_every_step_and_the_api_gets_its_token,
    a_test_without_a_record_is_not_found,
    details_without_a_grant_type_or_a_token_endpoint_fail_the_first_step,
    a_missing_client_secret_fails_the_client_secret_step,
    an_idp_refusal_fails_the_token_step,
    an_authorization_code_connection_without_a_token_fails_the_token_step,
    a_held_token_is_used_and_refreshed_when_due,
    a_jwt_bearer_connection_obtains_a_token_signed_with_the_details_key,
);

async fn a_client_credentials_connection_passes_every_step_and_the_api_gets_its_token(
    backend: Backend,
) {
    let Some(setup) = Setup::client_credentials(backend, Knobs::default(), CLIENT_SECRET).await
    else {
        return;
    };
    let ui = setup.ui();
    let Setup { idp, api, .. } = &setup;

    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(answer["ok"], true, "{body}");
    assert_eq!(
        outline(answer),
        ["details", "clientSecret", "token", "testRequest"].map(passed),
        "{body}"
    );
    for step in answer["steps"].as_array().unwrap() {
        assert!(step["durationMs"].as_i64().unwrap() >= 0, "{step}");
    }
    assert!(message(answer, "testRequest").contains("200"), "{body}");
    // The API got the token the IdP issued, in the type the IdP named.
    let issued = idp.last_access_token().expect("a token was issued");
    assert_eq!(api.seen(), [format!("Bearer {issued}")]);
    // The new token is stored like a generated one.
    let status = ui
        .data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let record = &status["IPackInstanceOAuthConnectorDetails"];
    assert_eq!(record["isTokenGenerated"], true, "{status}");
    assert_eq!(record["tokenStatus"]["grantType"], "CLIENT_CREDENTIALS");

    // A second test uses the held token: no new IdP request.
    let body = test_connection(&ui).await;
    assert!(answer_ok(&body), "{body}");
    assert_eq!(idp.requests().len(), 1);
    assert_eq!(api.seen().len(), 2);
}

fn answer_ok(body: &Value) -> bool {
    answer(body)["ok"].as_bool().unwrap()
}

async fn a_test_without_a_record_is_not_found(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let (status, _, body) = ui
        .graphql(TEST, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_error((status, &body), reqwest::StatusCode::OK, "NOT_FOUND");
    assert!(body["data"].is_null(), "{body}");

    // Another tenant's record is no record either.
    let idp = IdpDouble::start().await;
    let other = app.tenant("acct-other", SAMPLE_SPACE);
    let extra = json!({ "grantType": "CLIENT_CREDENTIALS" });
    save(&other, &details(&idp, extra), CLIENT_SECRET).await;
    let body = test_connection(&ui).await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
    assert!(idp.requests().is_empty());
}

async fn details_without_a_grant_type_or_a_token_endpoint_fail_the_first_step(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // No grantType and no token held: the grant is unknown.
    save(&ui, &details(&idp, json!({})), CLIENT_SECRET).await;
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(answer["ok"], false);
    assert_eq!(
        outline(answer),
        [failed("details", "INVALID_OAUTH_CONNECTOR_DETAILS")]
    );

    // A grant type but no token endpoint.
    let incomplete =
        json!({ "clientId": idp_double::CLIENT_ID, "grantType": "client_credentials" });
    save(&ui, &incomplete.to_string(), CLIENT_SECRET).await;
    let body = test_connection(&ui).await;
    let second = super::answer(&body);
    assert_eq!(
        outline(second),
        [failed("details", "INVALID_OAUTH_CONNECTOR_DETAILS")]
    );
    assert!(
        message(second, "details").contains("accessTokenURL"),
        "{body}"
    );

    // The authorization-code grant needs its authorization endpoint too.
    let incomplete = json!({
        "grantType": "AUTHORIZATION_CODE",
        "accessTokenURL": idp.url("/token"),
    });
    save(&ui, &incomplete.to_string(), CLIENT_SECRET).await;
    let answer = test_connection(&ui).await;
    assert_eq!(
        outline(&answer["data"]["testIPackInstanceOauthConnection"]),
        [failed("details", "INVALID_OAUTH_CONNECTOR_DETAILS")],
        "{answer}"
    );
    assert!(idp.requests().is_empty());
}

async fn a_missing_client_secret_fails_the_client_secret_step(backend: Backend) {
    let Some(setup) = Setup::client_credentials(backend, Knobs::default(), "dummyValue").await
    else {
        return;
    };
    let ui = setup.ui();
    let Setup { idp, api, .. } = &setup;
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(answer["ok"], false);
    assert_eq!(
        outline(answer),
        [
            passed("details"),
            failed("clientSecret", "CLIENT_SECRET_REQUIRED")
        ]
    );
    assert!(idp.requests().is_empty());
    assert!(api.seen().is_empty());
}

async fn an_idp_refusal_fails_the_token_step(backend: Backend) {
    let refusing = Knobs {
        fail_with: Some((401, "invalid_client".into(), "unknown client".into())),
        ..Knobs::default()
    };
    let Some(setup) = Setup::client_credentials(backend, refusing, CLIENT_SECRET).await else {
        return;
    };
    let ui = setup.ui();
    let Setup { idp, api, .. } = &setup;
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(
        outline(answer),
        [
            passed("details"),
            passed("clientSecret"),
            failed("token", "IDP_TOKEN_REQUEST_FAILED")
        ]
    );
    assert!(
        message(answer, "token").contains("unknown client"),
        "{body}"
    );
    assert_eq!(idp.requests().len(), 1);
    // A failed step stops the rest: the API is never called.
    assert!(api.seen().is_empty());
}

async fn an_authorization_code_connection_without_a_token_fails_the_token_step(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let extra = json!({ "grantType": "AUTHORIZATION_CODE" });
    save(&ui, &details(&idp, extra), CLIENT_SECRET).await;
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(
        outline(answer),
        [
            passed("details"),
            passed("clientSecret"),
            failed("token", "NOT_FOUND")
        ]
    );
    // Only a user can authorize: nothing was asked of the IdP.
    assert!(idp.requests().is_empty());
}

async fn a_held_token_is_used_and_refreshed_when_due(backend: Backend) {
    // Tokens live 30 s: within the 60 s margin, so a held one is due at once.
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 30,
        ..Knobs::default()
    })
    .await;
    let api = ApiDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // No grantType in the details: the held token's grant counts.
    let extra = json!({ "testURL": api.url() });
    save(&ui, &details(&idp, extra), CLIENT_SECRET).await;
    let input = generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", USERNAME)
        .with("password", PASSWORD);
    ui.data(GENERATE, json!({ "input": input })).await;
    let generated = idp.last_access_token().unwrap();

    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(answer["ok"], true, "{body}");
    assert!(message(answer, "details").contains("PASSWORD"), "{body}");
    let grants: Vec<String> = idp.requests().into_iter().map(|r| r.grant_type).collect();
    assert_eq!(grants, ["password", "refresh_token"]);
    let refreshed = idp.last_access_token().unwrap();
    assert_ne!(refreshed, generated);
    assert_eq!(api.seen(), [format!("Bearer {refreshed}")]);
}

async fn a_jwt_bearer_connection_obtains_a_token_signed_with_the_details_key(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        assertion_key: Some(RSA_PUBLIC_PEM.into()),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // Without a signing key no assertion can be made.
    let extra = json!({ "grantType": "JWT_BEARER" });
    save(&ui, &details(&idp, extra), "dummyValue").await;
    let body = test_connection(&ui).await;
    assert_eq!(
        outline(answer(&body)),
        [
            passed("details"),
            passed("clientSecret"),
            failed("token", "INVALID_OAUTH_CONNECTOR_DETAILS")
        ]
    );

    // The key rides in the details, vaulted (a secret-named key); no client secret.
    let extra = json!({ "grantType": "JWT_BEARER", "privateKey": RSA_PRIVATE_PEM });
    save(&ui, &details(&idp, extra), "dummyValue").await;
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(
        outline(answer),
        ["details", "clientSecret", "token"].map(passed),
        "{body}"
    );
    let grants: Vec<String> = idp.requests().into_iter().map(|r| r.grant_type).collect();
    assert_eq!(grants, ["urn:ietf:params:oauth:grant-type:jwt-bearer"]);
}
