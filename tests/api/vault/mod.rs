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

use crate::helpers::*;
use crate::idp_double::IdpDouble;
pub use crate::tokens::assert_generated;
use crate::tokens::{client_credentials, details, generate, generate_input, save_with_secret};

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
