//! Identity providers as they are (SPEC §11) against the IdP double switched to behave
//! like each provider family: tolerant token answers, provider values, the details
//! switches, discovery, and the provider catalog (shipped and `PROVIDERS_FILE`).

mod answers;
mod catalog;
mod switches;
mod values;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::idp_double::{self, IdpDouble, Knobs};
pub use crate::tokens::{
    ACCOUNT, REFRESH, details, generate, generate_input, runtime, save_connector, spawn, spawn_with,
};

/// The record's token status, provider values included.
pub const STATUS: &str = "query S($input: IPackInstanceOauthConnectorKeyInput!) { IPackInstanceOAuthConnectorDetails(input: $input) { isTokenGenerated tokenStatus { grantType tokenType expiresAt hasRefreshToken providerValues } } }";

/// The runtime's token, provider values included.
pub const TOKEN: &str = "query T($input: IPackInstanceOauthConnectorKeyInput!) { iPackInstanceOauthAccessToken(input: $input) { accessToken tokenType expiresAt providerValues } }";

/// The token status of the sample key (`Null` when no token is held).
pub async fn token_status(ui: &Tenant<'_>) -> Value {
    ui.data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await["IPackInstanceOAuthConnectorDetails"]["tokenStatus"]
        .clone()
}

/// The `providerValues` of the sample key's token status, parsed.
pub async fn provider_values(ui: &Tenant<'_>) -> Value {
    let status = token_status(ui).await;
    serde_json::from_str(status["providerValues"].as_str().unwrap()).unwrap()
}

/// Generates with `grant` for the sample key; the payload (errors asserted absent).
pub async fn generated(ui: &Tenant<'_>, input: Value) -> Value {
    let body = generate(ui, input).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"]["generateIPackInstanceOauthAccessToken"].clone()
}

/// The password grant's input with the double's resource owner.
pub fn password_input() -> Value {
    generate_input(SAMPLE_SPACE, "PASSWORD")
        .with("username", idp_double::USERNAME)
        .with("password", idp_double::PASSWORD)
}

/// Seconds from now until an RFC 3339 `expiresAt`.
pub fn seconds_until(expires_at: &Value) -> i64 {
    let at = chrono::DateTime::parse_from_rfc3339(expires_at.as_str().unwrap()).unwrap();
    at.timestamp() - chrono::Utc::now().timestamp()
}

/// Runs the authorization-code flow for the sample key to the end: starts it, opens
/// the authorization URL like a browser, and follows the redirect to the callback,
/// which must answer 200. Returns the authorization URL.
pub async fn authorize(app: &TestApp, ui: &Tenant<'_>) -> String {
    let payload = generated(ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    assert_eq!(payload["status"], "PENDING_AUTHORIZATION");
    let url = payload["authorizationUrl"].as_str().unwrap().to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser.get(&url).send().await.unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    let location = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let response = app
        .request(Method::GET, location.path())
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
    url
}

/// The query pairs of `url`.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Saves the sample key with `details` (pointing at `idp`, plus `extra`).
pub async fn save_details(ui: &Tenant<'_>, idp: &IdpDouble, extra: Value) -> Value {
    save_connector(ui, &details(idp, extra)).await
}

/// A double with `knobs` and a server that may call it; `None` when the backend is not
/// available (see [`TestApp::spawn`]).
pub async fn start(backend: Backend, knobs: Knobs) -> Option<(IdpDouble, TestApp)> {
    let idp = IdpDouble::start_with(knobs).await;
    let app = spawn(backend).await?;
    Some((idp, app))
}

/// Refreshes the sample key's token now (must succeed).
pub async fn refresh(ui: &Tenant<'_>) {
    ui.data(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
}

/// Generates a client-credentials token for the sample key; the error code, if any.
pub async fn client_credentials_error(ui: &Tenant<'_>) -> Option<String> {
    error_code(&generate(ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await)
}

/// What the runtime reads for the sample key (`iPackInstanceOauthAccessToken`).
pub async fn runtime_read(app: &TestApp) -> Value {
    runtime(app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await["iPackInstanceOauthAccessToken"]
        .clone()
}
