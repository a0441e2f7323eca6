//! The vault on the persistence path (SPEC §3, §5): the "Encrypt/Reset Client Secret"
//! mutations, a real `clientSecret` in a save and the values that mean "no new secret",
//! planted secrets kept out of the database and the log, ciphertexts bound to their
//! record and slot, and key rotation with the real `spaces-oauth rotate-keys`.
//!
//! What the vault holds is proven by use: the IdP double accepts only its own client
//! secret (and password), so a generated token means the right plaintext came out.

mod buttons;
mod keys;
mod saves;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::idp_double::IdpDouble;
use crate::tokens::{details, generate, generate_input};

/// Saves the sample key, or `connection`, with details pointing at `idp`.
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
            .with("clientId", crate::idp_double::CLIENT_ID)
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

#[track_caller]
pub fn assert_generated(body: &Value) {
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
}

/// The client secret the double saw in the last token request.
pub fn last_client_secret(idp: &IdpDouble) -> String {
    let requests = idp.requests();
    let last = requests.last().expect("the IdP saw a request");
    last.params
        .get("client_secret")
        .cloned()
        .unwrap_or_default()
}

pub async fn record(app: &TestApp, connection: &str) -> entity::connector_details::Model {
    app.records()
        .await
        .into_iter()
        .find(|r| r.connection_id == connection)
        .unwrap_or_else(|| panic!("no record with connectionId {connection}"))
}
