//! Ciphertexts bound to their record and slot (associated data), rotation with the
//! real `spaces-oauth rotate-keys`, and start-up refused for a key id that is not
//! loaded or a malformed `VAULT_KEYS` (SPEC §5, README "The vault").

use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, IntoActiveModel as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use super::*;
use crate::helpers::binary::{self, ServerProcess};
use crate::helpers::logs;
use crate::idp_double::{CLIENT_SECRET, IdpDouble, PASSWORD, USERNAME};
use crate::tokens::{ACCOUNT, spawn};

backend_tests!(
    a_ciphertext_moved_to_another_record_or_slot_fails_with_a_coded_error,
    rotate_keys_reencrypts_under_the_new_key_and_the_old_key_can_go,
    a_server_refuses_to_start_when_a_stored_key_id_is_not_loaded,
    rotate_keys_stops_at_a_ciphertext_that_does_not_open_and_names_its_record,
    key_ids_that_differ_only_in_case_are_different_keys,
);

/// Key ids `K1` and `k1` are told apart by the start-up check, by the key-id indexes
/// and by rotation (SQLite's `LIKE` and case-insensitive collations would confuse them).
async fn key_ids_that_differ_only_in_case_are_different_keys(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant(ACCOUNT, SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE).with("clientSecret", "sealed-under-k1"))
        .await;
    let k1 = vault_keys(&app);
    let upper = resolver::Vault::generate_key_entry("K1");
    let error = app
        .restart_with(|c| c.vault_keys = Some(SecretString::from(upper.clone())))
        .await
        .expect_err("started without key k1");
    assert!(error.contains("key id(s) k1 "), "{error}");

    // A second record saved under K1: both ids are in use, in byte order.
    let both = format!("{upper},{k1}");
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(both.clone())))
        .await
        .unwrap();
    app.tenant(ACCOUNT, SAMPLE_SPACE)
        .save(
            save_input(SAMPLE_SPACE)
                .with("connectionId", "2")
                .with("clientSecret", "sealed-under-upper-k1"),
        )
        .await;
    let client_secrets = resolver::key_ids::SEALED[0];
    assert_eq!(client_secrets.column, "sealed_client_secret");
    assert_eq!(
        client_secrets.key_ids(app.db()).await.unwrap(),
        ["K1", "k1"]
    );
    let error = app
        .restart_with(|c| c.vault_keys = Some(SecretString::from(k1.clone())))
        .await
        .expect_err("started without key K1");
    assert!(error.contains("key id(s) K1 "), "{error}");

    app.restart_with(|c| c.vault_keys = Some(SecretString::from(both.clone())))
        .await
        .unwrap();
    let vault = resolver::Vault::from_keys(&both).unwrap();
    let left = resolver::key_ids::left_under_other_keys(app.db(), "K1")
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!((left[0].key_id.as_str(), left[0].count), ("k1", 1));
    let report = resolver::key_rotation::rotate(app.db(), &vault, 10)
        .await
        .unwrap();
    assert_eq!(report.records_rotated, 1, "{report:?}");
    assert_eq!(report.left, [], "{report:?}");
    for record in app.records().await {
        let sealed = record.sealed_client_secret.unwrap();
        assert!(sealed.starts_with("K1:"), "{sealed}");
    }
    // k1 can go now.
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(upper.clone())))
        .await
        .unwrap();
}

async fn a_ciphertext_moved_to_another_record_or_slot_fails_with_a_coded_error(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_with_secret(&ui, &idp, "3", CLIENT_SECRET).await;
    save_with_secret(&ui, &idp, "4", "the-other-records-own-secret").await;
    let donor = record(&app, "3").await;
    let target = record(&app, "4").await;
    let own = target.sealed_client_secret.clone();

    // The donor's ciphertext holds the one secret the IdP accepts: if it opened on the
    // other record, that record would get a token.
    let mut moved = target.clone().into_active_model();
    moved.sealed_client_secret = Set(donor.sealed_client_secret.clone());
    moved.update(app.db()).await.expect("cannot plant the copy");
    let seen = idp.requests().len();
    let (_, headers, body) = ui
        .graphql(
            crate::tokens::GENERATE,
            json!({ "input": generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS").with("connectionId", "4") }),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("GENERIC_SYSTEM_ERROR"),
        "{body}"
    );
    let request_id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(body["errors"][0]["extensions"]["requestId"], request_id);
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(idp.requests().len(), seen, "nothing went to the IdP");
    assert!(!record(&app, "4").await.is_token_generated);
    // The reason is in the log, under the request id, and only there.
    let log = logs::captured();
    assert!(
        log.lines()
            .any(|l| l.contains(request_id) && l.contains("tampered or moved")),
        "no log line for request {request_id}"
    );
    assert!(!body.to_string().contains("tampered"), "{body}");

    // The donor is untouched and still works.
    assert_generated(&client_credentials(&ui, "3").await);

    // The record's own client-secret ciphertext in its details slot does not open either.
    let mut moved = record(&app, "4").await.into_active_model();
    moved.sealed_client_secret = Set(None);
    moved.sealed_details_secrets = Set(own);
    moved.update(app.db()).await.expect("cannot plant the copy");
    let seen = idp.requests().len();
    let body = client_credentials(&ui, "4").await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("GENERIC_SYSTEM_ERROR"),
        "{body}"
    );
    assert_eq!(idp.requests().len(), seen, "nothing went to the IdP");
}

/// Starts the real binary with `envs`, expecting it to refuse; its error output.
async fn refused_start(envs: &[(&str, &str)], case: &str) -> String {
    match ServerProcess::start(envs).await {
        Ok(process) => {
            process.stop().await;
            panic!("the server started {case}");
        }
        Err(error) => error,
    }
}

/// The `VAULT_KEYS` the app was started with.
fn vault_keys(app: &TestApp) -> String {
    app.config
        .vault_keys
        .as_ref()
        .expect("the test app has vault keys")
        .expose_secret()
        .to_owned()
}

/// The environment of the real binary on this app's database, with `vault_keys`.
fn binary_env<'a>(
    app: &'a TestApp,
    data_dir: &'a str,
    vault_keys: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("DATABASE_URL", app.database().url.as_str()),
        ("DATA_DIR", data_dir),
        ("JWT_HS256_SECRET", app.hs256_secret.as_str()),
        ("VAULT_KEYS", vault_keys),
    ]
}

async fn rotate_keys_reencrypts_under_the_new_key_and_the_old_key_can_go(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    // Two records, each with a client secret and a vaulted password in its details.
    let text = details(&idp, json!({ "username": USERNAME, "password": PASSWORD }));
    for connection in ["3", "4"] {
        app.tenant(ACCOUNT, SAMPLE_SPACE)
            .save(
                save_input(SAMPLE_SPACE)
                    .with("connectionId", connection)
                    .with("oauthConnectorDetails", text.as_str())
                    .with("clientId", crate::idp_double::CLIENT_ID)
                    .with("clientSecret", CLIENT_SECRET),
            )
            .await;
    }
    let mut bindings = Vec::new();
    for stored in app.records().await {
        assert!(stored.sealed_client_secret.unwrap().starts_with("k1:"));
        assert!(stored.sealed_details_secrets.unwrap().starts_with("k1:"));
        bindings.push((stored.id, stored.secret_binding.expect("a secret binding")));
    }

    // README "Rotate": the new key first, the old one after it; restart; rotate.
    let k1 = vault_keys(&app);
    let k2 = resolver::Vault::generate_key_entry("k2");
    let both = format!("{k2},{k1}");
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(both.clone())))
        .await
        .unwrap();
    let data_dir = app.dir().join("binary-data");
    let data_dir = data_dir.to_str().unwrap();
    let envs = binary_env(&app, data_dir, &both);
    let output = binary::run(&["rotate-keys", "--batch-size", "1"], &envs).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rotated 2 record(s) to key k2"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("nothing left under other keys"), "{stdout}");
    for stored in app.records().await {
        assert!(stored.sealed_client_secret.unwrap().starts_with("k2:"));
        assert!(stored.sealed_details_secrets.unwrap().starts_with("k2:"));
        // The secrets stay tied to their identity provider (SPEC §10).
        assert!(bindings.contains(&(stored.id, stored.secret_binding.unwrap())));
    }
    let k1_material = k1.split_once(':').unwrap().1;
    assert!(!stdout.contains(k1_material) && !stderr.contains(k1_material));

    // Nothing left: a second run rotates nothing.
    let output = binary::run(&["rotate-keys"], &envs).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("rotated 0 record(s)"), "{stdout}");
    assert!(stdout.contains("nothing left under other keys"), "{stdout}");

    // k1 dropped: the server starts and both secrets of both records still open.
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(k2.clone())))
        .await
        .unwrap();
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    for connection in ["3", "4"] {
        let body = generate(
            &ui,
            generate_input(SAMPLE_SPACE, "PASSWORD").with("connectionId", connection),
        )
        .await;
        assert_generated(&body);
        let requests = idp.requests();
        let last = requests.last().unwrap();
        assert_eq!(last.params.get("client_secret").unwrap(), CLIENT_SECRET);
        assert_eq!(last.params.get("password").unwrap(), PASSWORD);
    }
}

async fn a_server_refuses_to_start_when_a_stored_key_id_is_not_loaded(backend: Backend) {
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    app.tenant(ACCOUNT, SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE).with("clientSecret", "sealed-under-k1"))
        .await;
    app.stop().await;
    let k1 = vault_keys(&app);
    let data_dir = app.dir().join("binary-data");
    let data_dir = data_dir.to_str().unwrap();

    let k2 = resolver::Vault::generate_key_entry("k2");
    let error = refused_start(&binary_env(&app, data_dir, &k2), "without key k1").await;
    assert!(error.contains("exited with"), "{error}");
    assert!(error.contains("key id(s) k1 "), "{error}");
    for material in [&k1, &k2] {
        assert!(
            !error.contains(material.split_once(':').unwrap().1),
            "{error}"
        );
    }

    // A malformed VAULT_KEYS names the entry, not its material.
    let malformed = format!("{k1},k3:bm90LTMyLWJ5dGVz");
    let error = refused_start(
        &binary_env(&app, data_dir, &malformed),
        "with a malformed VAULT_KEYS",
    )
    .await;
    assert!(error.contains("entry 2 (key id k3)"), "{error}");
    assert!(!error.contains("bm90LTMyLWJ5dGVz"), "{error}");

    // With k1 after the active k2, it starts and the secret is still there.
    let both = format!("{k2},{k1}");
    let process = ServerProcess::start(&binary_env(&app, data_dir, &both))
        .await
        .unwrap_or_else(|error| panic!("did not start with both keys: {error}"));
    assert_eq!(process.stop().await.code(), Some(0));
    assert!(app.records().await[0].sealed_client_secret.is_some());
}

async fn rotate_keys_stops_at_a_ciphertext_that_does_not_open_and_names_its_record(
    backend: Backend,
) {
    let idp = IdpDouble::start().await;
    let Some(mut app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_with_secret(&ui, &idp, "3", CLIENT_SECRET).await;
    save_with_secret(&ui, &idp, "4", "the-other-records-own-secret").await;
    drop(ui);
    let donor = record(&app, "3").await;
    let target = record(&app, "4").await;
    let mut moved = target.clone().into_active_model();
    moved.sealed_client_secret = Set(donor.sealed_client_secret.clone());
    moved.update(app.db()).await.expect("cannot plant the copy");

    let k1 = vault_keys(&app);
    let both = format!("{},{k1}", resolver::Vault::generate_key_entry("k2"));
    app.restart_with(|c| c.vault_keys = Some(SecretString::from(both.clone())))
        .await
        .unwrap();
    let data_dir = app.dir().join("binary-data");
    let data_dir = data_dir.to_str().unwrap();
    let output = binary::run(&["rotate-keys"], &binary_env(&app, data_dir, &both)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    // The operator learns which record to repair, and why; never a secret.
    assert!(stderr.contains(&target.id.to_string()), "{stderr}");
    assert!(stderr.contains("tampered or moved"), "{stderr}");
    assert!(!stderr.contains(CLIENT_SECRET), "{stderr}");
    // The run stopped before reporting; the moved ciphertext was left as it was, under k1.
    let after = record(&app, "4").await;
    assert_eq!(after.sealed_client_secret, donor.sealed_client_secret);
}
