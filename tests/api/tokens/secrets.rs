//! Planted client secrets, passwords, signing keys, assertions, access and refresh
//! tokens appear in neither the database nor the server log (SPEC §5).

use serde_json::json;

use super::*;
use crate::helpers::logs;
use crate::helpers::tokens::{RSA_PRIVATE_PEM, RSA_PUBLIC_PEM};
use crate::idp_double::{CLIENT_SECRET, Knobs, PASSWORD, USERNAME};

backend_tests!(planted_secrets_appear_in_neither_the_database_nor_the_log);

async fn planted_secrets_appear_in_neither_the_database_nor_the_log(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 30,
        assertion_key: Some(RSA_PUBLIC_PEM.into()),
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // The password also rides in the details, where it is vaulted (SPEC §4).
    save_connector(
        &ui,
        &details(&idp, json!({ "username": USERNAME, "password": PASSWORD })),
    )
    .await;
    let key = json!({ "input": key_input(SAMPLE_SPACE) });

    let body = generate(&ui, generate_input(SAMPLE_SPACE, "PASSWORD")).await;
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
    ui.data(REFRESH, key.clone()).await;
    runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, key.clone())
        .await;
    let body = generate(
        &ui,
        generate_input(SAMPLE_SPACE, "JWT_BEARER")
            .with("jwt", json!({ "signingKey": RSA_PRIVATE_PEM })),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    runtime(&app, ACCOUNT, SAMPLE_SPACE).data(TOKEN, key).await;

    let mut planted: Vec<String> = vec![CLIENT_SECRET.into(), PASSWORD.into()];
    planted.extend(idp.issued_tokens());
    planted.extend(
        idp.requests()
            .iter()
            .filter_map(|r| r.params.get("assertion").cloned()),
    );
    // A line from the middle of the signing key.
    planted.push(RSA_PRIVATE_PEM.lines().nth(5).unwrap().to_owned());
    assert!(planted.len() >= 8, "{planted:?}");

    let dump = app.dump_database_text().await;
    let log = logs::captured();
    // The capture does hold this server's token work, so its silence means something.
    assert!(log.contains("token refreshed"));
    for secret in &planted {
        assert!(
            !dump.contains(secret.as_str()),
            "the database holds {secret}"
        );
        assert!(!log.contains(secret.as_str()), "the log holds {secret}");
    }
}
