//! Token answers as providers send them (SPEC §11): `expires_in` as a string or
//! missing (then `tokenLifetimeSeconds`), `token_type` in any case or missing, and an
//! HTTP 200 carrying `error`.

use serde_json::{Map, json};

use super::*;
use crate::idp_double::{ExpiresIn, Knobs};

backend_tests!(
    a_string_expires_in_is_read_as_seconds,
    without_expires_in_the_expiry_is_unknown_unless_token_lifetime_seconds_is_set,
    token_type_is_shown_as_sent_and_bearer_when_missing,
    an_http_200_answer_with_an_error_member_is_a_failure,
);

async fn a_string_expires_in_is_read_as_seconds(backend: Backend) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            expires_in: 1800,
            expires_in_as: ExpiresIn::Text,
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let status = token_status(&ui).await;
    let left = seconds_until(&status["expiresAt"]);
    assert!(
        (1790..=1800).contains(&left),
        "expires in {left} s: {status}"
    );
}

async fn without_expires_in_the_expiry_is_unknown_unless_token_lifetime_seconds_is_set(
    backend: Backend,
) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            expires_in_as: ExpiresIn::Absent,
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let status = token_status(&ui).await;
    assert!(status["expiresAt"].is_null(), "{status}");
    // The runtime still gets the token: an unknown expiry is not an expired one.
    assert_eq!(
        runtime_read(&app).await["accessToken"].as_str(),
        idp.last_access_token().as_deref()
    );

    save_details(&ui, &idp, json!({ "tokenLifetimeSeconds": 7200 })).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let left = seconds_until(&token_status(&ui).await["expiresAt"]);
    assert!((7190..=7200).contains(&left), "expires in {left} s");
}

async fn token_type_is_shown_as_sent_and_bearer_when_missing(backend: Backend) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            token_type: Some("BEARER".into()),
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(token_status(&ui).await["tokenType"], "BEARER");

    idp.set(|k| k.token_type = None);
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(token_status(&ui).await["tokenType"], "Bearer");
}

async fn an_http_200_answer_with_an_error_member_is_a_failure(backend: Backend) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            fail_with: Some((200, "invalid_scope".into(), "scope not granted".into())),
            extra_members: Map::new(),
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "IDP_TOKEN_REQUEST_FAILED"
    );
    assert_eq!(body["errors"][0]["extensions"]["idpError"], "invalid_scope");
    assert!(token_status(&ui).await.is_null(), "no token is held");
}
