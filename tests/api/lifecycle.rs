//! The life of a deployment (SPEC §9): what was saved survives a restart on the same
//! database; `spaces-oauth migrate` prepares a database a server then starts on; and
//! zero configuration — the real binary in an empty directory — is a working dev setup.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use migration::MigratorTrait as _;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::app::send;
use crate::helpers::backend::{self, TestDatabase};
use crate::helpers::binary::{self, ServerProcess};
use crate::helpers::*;
use crate::idp_double::{self, IdpDouble, PASSWORD, USERNAME};
use crate::tokens::{self, ACCOUNT, STATUS, TOKEN, details, generate, generate_input, runtime};

backend_tests!(
    records_secrets_and_tokens_survive_a_restart_on_the_same_database,
    migrate_prepares_a_fresh_database_and_can_run_again,
);

async fn records_secrets_and_tokens_survive_a_restart_on_the_same_database(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(mut app) = tokens::spawn(backend).await else {
        return;
    };
    let key = key_input(SAMPLE_SPACE);
    let text = details(&idp, json!({ "username": USERNAME, "password": PASSWORD }));
    let (before, list_before, status_before) = {
        let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
        tokens::save_connector(&ui, &text).await;
        ui.save(save_input(SAMPLE_SPACE).with("connectionId", "other"))
            .await;
        let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
        assert!(body.get("errors").is_none(), "{body}");
        (
            ui.find(key.clone()).await,
            ui.data(LIST, json!({ "id": "test-101" })).await,
            ui.data(STATUS, json!({ "input": key })).await,
        )
    };
    let held = idp.last_access_token().unwrap();
    assert_eq!(before["isTokenGenerated"], true);
    assert_eq!(before["isClientSecretEncrypted"], true);

    app.restart().await;

    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    assert_eq!(ui.find(key.clone()).await, before);
    assert_eq!(
        ui.data(LIST, json!({ "id": "test-101" })).await,
        list_before
    );
    assert_eq!(
        ui.data(STATUS, json!({ "input": key })).await,
        status_before
    );
    let token = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key }))
        .await;
    assert_eq!(token["iPackInstanceOauthAccessToken"]["accessToken"], held);
    // The vaulted client secret and details password still open: the IdP accepts them.
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "PASSWORD")).await;
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
    let requests = idp.requests();
    let last = requests.last().unwrap();
    assert_eq!(last.grant_type, "password");
    assert_eq!(last.params["client_secret"], idp_double::CLIENT_SECRET);
    assert_eq!(last.params["password"], PASSWORD);
}

/// The user tables of the database at `url`, and the applied migrations.
async fn tables_and_migrations(url: &str) -> (Vec<String>, usize) {
    let db = backend::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
    };
    let tables = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    let applied = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .map(|rows| rows.len())
        .unwrap_or(0);
    let _ = db.close().await;
    (tables, applied)
}

async fn migrate_prepares_a_fresh_database_and_can_run_again(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(database) = TestDatabase::create(backend, &dir).await else {
        return;
    };
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let envs = [
        ("DATABASE_URL", database.url.as_str()),
        ("DATA_DIR", data_dir),
    ];
    let expected = migration::Migrator::migrations().len();
    assert!(expected >= 2);

    for run in 1..=2 {
        let output = binary::run(&["migrate"], &envs).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "run {run}: {stderr}");
        assert!(stderr.contains("migrations applied"), "run {run}: {stderr}");
        let (tables, applied) = tables_and_migrations(&database.url).await;
        for table in ["connector_details", "oauth_tokens", "oauth_states"] {
            assert!(tables.iter().any(|t| t == table), "run {run}: {tables:?}");
        }
        assert_eq!(applied, expected, "run {run}");
    }

    // A server starts on the migrated database and reports it ready.
    let vault = resolver::Vault::generate_key_entry("k1");
    let process = ServerProcess::start(&[
        ("DATABASE_URL", database.url.as_str()),
        ("DATA_DIR", data_dir),
        ("JWT_HS256_SECRET", "lifecycle-test-hs256"),
        ("VAULT_KEYS", vault.as_str()),
    ])
    .await
    .unwrap_or_else(|error| panic!("spaces-oauth did not start: {error}"));
    let ready = reqwest::get(process.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(process.stop().await.code(), Some(0));
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `spaces-oauth token --account A --space S` run in `dir`; the token it prints.
async fn dev_token(dir: &Path) -> String {
    let output = binary::run_in(
        dir,
        &["token", "--account", "acct-dev", "--space", SAMPLE_SPACE],
        &[],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "not a JWT: {token}");
    token
}

/// `POST /graphql` to `process` as the holder of `token`.
async fn post(
    process: &ServerProcess,
    token: &str,
    query: &str,
    variables: Value,
) -> (StatusCode, Value) {
    let (status, _, body) = send(
        reqwest::Client::new()
            .post(process.url("/graphql"))
            .header("Accept", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .header("SPACE_GUID", SAMPLE_SPACE)
            .json(&json!({ "query": query, "variables": variables })),
    )
    .await;
    (status, body)
}

/// Nothing but `BIND_ADDR` (a free port instead of 8080, which others may hold) and
/// `PATH`: no `DATABASE_URL`, no keys, no `DATA_DIR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_from_an_empty_directory_creates_private_files_and_its_token_works() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServerProcess::start_in(dir.path(), &[])
        .await
        .unwrap_or_else(|error| panic!("spaces-oauth did not start in dev mode: {error}"));

    let data = dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    for file in ["spaces-oauth.db", "dev-jwt-secret", "vault-keys"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let vault_keys = std::fs::read_to_string(data.join("vault-keys")).unwrap();
    let vault = resolver::Vault::from_keys(vault_keys.trim()).expect("a usable vault key");
    assert_eq!(vault.active_key_id(), "dev");
    let log = process.stderr();
    assert!(
        log.contains(&format!("http://{}/graphql", process.address)),
        "no GraphiQL URL in:\n{log}"
    );
    assert!(
        log.contains("spaces-oauth token --account dev-account --space dev-space"),
        "no word on getting a token in:\n{log}"
    );

    let token = dev_token(dir.path()).await;
    let input = save_input(SAMPLE_SPACE).with("clientSecret", "dev-mode-secret");
    let (status, body) = post(&process, &token, SAVE, json!({ "input": input })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let saved = body["data"]["saveIPackInstanceOauthConnectorDetails"].clone();
    assert_eq!(saved["isClientSecretEncrypted"], true);

    // A dev token of another directory (another dev key) is refused.
    let elsewhere = tempfile::tempdir().unwrap();
    let foreign = dev_token(elsewhere.path()).await;
    let (status, body) = post(
        &process,
        &foreign,
        FIND,
        json!({ "input": key_input(SAMPLE_SPACE) }),
    )
    .await;
    assert_error((status, &body), StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // Started again in the same directory: the same keys, the same data.
    assert_eq!(process.stop().await.code(), Some(0));
    let process = ServerProcess::start_in(dir.path(), &[])
        .await
        .unwrap_or_else(|error| panic!("spaces-oauth did not restart in dev mode: {error}"));
    let (status, body) = post(
        &process,
        &token,
        FIND,
        json!({ "input": key_input(SAMPLE_SPACE) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["IPackInstanceOAuthConnectorDetails"]["id"],
        saved["id"]
    );
    assert_eq!(
        body["data"]["IPackInstanceOAuthConnectorDetails"]["isClientSecretEncrypted"],
        true
    );
    assert_eq!(
        std::fs::read_to_string(data.join("vault-keys")).unwrap(),
        vault_keys
    );
    assert_eq!(process.stop().await.code(), Some(0));
}

/// Dev mode hands out working tokens: it refuses a non-loopback `BIND_ADDR` unless
/// `DEV_MODE_ALLOW_REMOTE` is set (the check runs before anything is bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("0.0.0.0:{}", binary::free_port());
    let output = binary::run_in(dir.path(), &["serve"], &[("BIND_ADDR", &bind)]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("BIND_ADDR") && stderr.contains("DEV_MODE_ALLOW_REMOTE"),
        "{stderr}"
    );
}

/// GraphiQL pre-fills the dev token for a browser on this machine, not for a request
/// that came through a proxy (which would make any client look local).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_prefills_the_dev_token_for_a_direct_local_client_only() {
    let dir = tempfile::tempdir().unwrap();
    let process = ServerProcess::start_in(dir.path(), &[])
        .await
        .unwrap_or_else(|error| panic!("spaces-oauth did not start in dev mode: {error}"));
    let page = |proxied: bool| {
        let mut request = reqwest::Client::new()
            .get(process.url("/graphql"))
            .header("Accept", "text/html");
        if proxied {
            request = request.header("X-Forwarded-For", "203.0.113.9");
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let local = page(false).await;
    assert!(
        local.contains("Bearer ey"),
        "no dev token for a local client"
    );
    let proxied = page(true).await;
    assert!(
        !proxied.contains("Bearer ey"),
        "a dev token through a proxy"
    );
    assert!(proxied.contains("Bearer \\u003ctoken>"), "{proxied}");
    assert_eq!(process.stop().await.code(), Some(0));
}

/// Every numeric setting has a range (README); a value outside it stops the start,
/// and the message names the setting, before anything is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setting_out_of_its_range_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let long_replica = "r".repeat(68);
    let cases = [
        ("IDP_TIMEOUT_SECONDS", "18446744073709551615"),
        ("IDP_TIMEOUT_SECONDS", "0"),
        ("REPLICA_ID", long_replica.as_str()),
        ("REPLICA_ID", "a b"),
        ("MAX_HEADER_BYTES", "100"),
        ("MAX_ROOT_FIELDS", "0"),
        ("RATE_LIMIT_RPS", "-1"),
        ("REFRESH_INTERVAL_SECONDS", "NaN"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("REQUEST_TIMEOUT_SECONDS", "999999"),
    ];
    for (name, value) in cases {
        let output = binary::run_in(dir.path(), &["serve"], &[(name, value)]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value} started");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before the settings are checked"
    );
}
