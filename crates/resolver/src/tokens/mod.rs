//! Tokens (SPEC §6): generation with the four grants, the authorization-code callback,
//! refresh on demand and in the background under a database lease, revocation, and the
//! runtime's token query. Outbound calls go through [`http::IdpClient`] only.

pub mod callback;
pub mod grants;
pub mod http;
pub mod jwt_bearer;
pub mod lease;
pub mod mutation;
pub mod policy;
pub mod query;
pub mod refresh;
pub mod refresher;
pub mod service;
pub mod settings;
pub mod states;
pub mod store;
pub mod types;

/// What token work needs besides the database and the vault.
#[derive(Clone, Debug)]
pub struct TokenServices {
    /// The outbound client, with the operator's policy.
    pub idp: http::IdpClient,
    /// The external base URL; callback URLs are built from it.
    pub public_base_url: String,
    /// This replica's name in lease owners (diagnostics only; leases are per attempt).
    pub replica: String,
}
