//! Token generation and upkeep (SPEC §3, §6, §10) against the IdP double: every grant,
//! the callback, the connector matrix, refresh, revoke, invalidation, the runtime's
//! query, connection states and failure classes, refreshes that outlive their caller,
//! the refresher's fairness, two replicas on one database, and secrets kept out of the
//! database and the log.

mod callback;
mod connection_status;
mod durability;
mod failures;
mod fairness;
mod grants;
mod identity_provider;
mod refresh;
mod replicas;
mod safety;
mod secrets;
mod settings_rules;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::idp_double::{self, IdpDouble};

/// `generateIPackInstanceOauthAccessToken(input: $input)`.
pub const GENERATE: &str = "mutation G($input: IPackInstanceOauthGenerateTokenInput!) { generateIPackInstanceOauthAccessToken(input: $input) { status authorizationUrl connectorDetails { id isTokenGenerated tokenStatus { grantType tokenType scope expiresAt hasRefreshToken lastRefreshedAt lastError } } } }";

/// `refreshIPackInstanceOauthAccessToken(input: $input)`.
pub const REFRESH: &str = "mutation R($input: IPackInstanceOauthConnectorKeyInput!) { refreshIPackInstanceOauthAccessToken(input: $input) { isTokenGenerated tokenStatus { expiresAt hasRefreshToken lastRefreshedAt lastError } } }";

/// `revokeIPackInstanceOauthAccessToken(input: $input)`.
pub const REVOKE: &str = "mutation V($input: IPackInstanceOauthConnectorKeyInput!) { revokeIPackInstanceOauthAccessToken(input: $input) { isTokenGenerated tokenStatus { expiresAt } } }";

/// `iPackInstanceOauthAccessToken(input: $input)`.
pub const TOKEN: &str = "query T($input: IPackInstanceOauthConnectorKeyInput!) { iPackInstanceOauthAccessToken(input: $input) { accessToken tokenType expiresAt } }";

/// The record with its token status.
pub const STATUS: &str = "query S($input: IPackInstanceOauthConnectorKeyInput!) { IPackInstanceOAuthConnectorDetails(input: $input) { isTokenGenerated tokenStatus { grantType tokenType scope expiresAt hasRefreshToken lastRefreshedAt lastError } } }";

/// The account and Space of token tests.
pub const ACCOUNT: &str = "acct-tokens";

/// A server that may call the double over http on 127.0.0.1.
pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_with(backend, |_| {}).await
}

/// Like [`spawn`], with more configuration.
pub async fn spawn_with(
    backend: Backend,
    adjust: impl FnOnce(&mut server::Config),
) -> Option<TestApp> {
    TestApp::spawn_with(backend, |config| {
        config.idp_allow_http = vec!["127.0.0.1".into()];
        config.public_base_url = Some("https://spaces.example.com".into());
        config.limits.idp_timeout_seconds = 2;
        // Only the replica tests want the background refresher busy.
        config.refresh_interval_seconds = 3600.0;
        adjust(config);
    })
    .await
}

/// Like [`spawn`], as the real binary (its environment and metrics its own), with
/// `envs` added.
pub async fn spawn_process(backend: Backend, envs: &[(&str, &str)]) -> Option<TestApp> {
    let mut all = vec![
        ("IDP_ALLOW_HTTP", "127.0.0.1"),
        ("PUBLIC_BASE_URL", "https://spaces.example.com"),
        ("IDP_TIMEOUT_SECONDS", "2"),
        ("REFRESH_INTERVAL_SECONDS", "3600"),
    ];
    all.extend_from_slice(envs);
    TestApp::spawn_process(backend, &all).await
}

/// Details pointing at the double, plus `extra` top-level keys.
pub fn details(idp: &IdpDouble, extra: Value) -> String {
    let mut details = json!({
        "clientId": idp_double::CLIENT_ID,
        "authorizationTokenURL": idp.url("/authorize"),
        "accessTokenURL": idp.url("/token"),
        "scope": "read write",
        "authParams": { "prompt": "consent" },
        "accessTokenParams": { "audience": "api://spaces" },
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut details, extra) {
        map.extend(extra);
    }
    details.to_string()
}

/// The UI of the token tests' tenant, after saving the sample key with details pointing
/// at `idp` and the double's client id and secret.
pub async fn connected<'a>(app: &'a TestApp, idp: &IdpDouble) -> Tenant<'a> {
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_connector(&ui, &details(idp, json!({}))).await;
    ui
}

/// Saves the sample key with `details` and the double's client id and secret.
pub async fn save_connector(tenant: &Tenant<'_>, details: &str) -> Value {
    tenant
        .save(
            save_input(&tenant.space)
                .with("oauthConnectorDetails", details)
                .with("clientId", idp_double::CLIENT_ID)
                .with("clientSecret", idp_double::CLIENT_SECRET),
        )
        .await
}

/// Saves the sample key at `connection` with details pointing at `idp`, the double's
/// client id and `secret` as the client secret.
pub async fn save_with_secret(
    ui: &Tenant<'_>,
    idp: &IdpDouble,
    connection: &str,
    secret: &str,
) -> Value {
    ui.save(
        save_input(SAMPLE_SPACE)
            .with("connectionId", connection)
            .with("oauthConnectorDetails", details(idp, json!({})))
            .with("clientId", idp_double::CLIENT_ID)
            .with("clientSecret", secret),
    )
    .await
}

/// Generates a client-credentials token for `connection`; the response body.
pub async fn client_credentials(ui: &Tenant<'_>, connection: &str) -> Value {
    generate(
        ui,
        generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS").with("connectionId", connection),
    )
    .await
}

/// The generate input for the sample key and `grant`.
pub fn generate_input(space: &str, grant: &str) -> Value {
    key_input(space).with("grantType", grant)
}

/// The generate input of the password grant with the double's resource owner.
pub fn password_input() -> Value {
    generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", idp_double::USERNAME)
        .with("password", idp_double::PASSWORD)
}

/// Generates with `input`; the whole response body.
pub async fn generate(tenant: &Tenant<'_>, input: Value) -> Value {
    tenant.graphql(GENERATE, json!({ "input": input })).await.2
}

/// An integration runtime of `account` holding `oauth.token.read`.
pub fn runtime<'a>(app: &'a TestApp, account: &str, space: &str) -> Tenant<'a> {
    Tenant {
        app,
        space: space.to_owned(),
        token: app
            .token_builder(account)
            .space(space)
            .scope("oauth.token.read")
            .sign(),
    }
}

/// Asserts that a generation answered `GENERATED`.
#[track_caller]
pub fn assert_generated(body: &Value) {
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
}

/// Asserts that the first error of `body` has `code`.
#[track_caller]
pub fn assert_code(body: &Value, code: &str) {
    assert_eq!(error_code(body).as_deref(), Some(code), "{body}");
}

/// A secret to plant, unique to the test that plants it (for leak searches).
pub fn planted(what: &str) -> String {
    format!("planted-{what}-{}", uuid::Uuid::new_v4().simple())
}

/// The token row of the only connector.
pub async fn token_row(app: &TestApp) -> Option<entity::oauth_token::Model> {
    use sea_orm::EntityTrait;
    entity::oauth_token::Entity::find()
        .one(app.db())
        .await
        .expect("cannot read oauth_tokens")
}
