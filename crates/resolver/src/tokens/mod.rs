//! Tokens (SPEC §6, §10, §11): generation with the four grants, the authorization-code
//! callback, refresh on demand and in the background under a database lease, the
//! connection states a refresh moves through, revocation, the runtime's token query,
//! and the provider catalog. Outbound calls go through [`http::IdpClient`] only,
//! discovery documents included.

pub mod callback;
pub mod due;
pub mod fair_queue;
pub mod grants;
pub mod http;
pub mod jwt_bearer;
pub mod lease;
pub mod lease_wait;
pub mod mutation;
pub mod policy;
pub mod providers;
pub mod query;
pub mod refresh;
pub mod refresher;
pub mod service;
pub mod settings;
pub mod states;
pub mod store;
pub mod types;

use std::fmt;
use std::sync::Arc;

/// What token work needs besides the database and the vault.
#[derive(Clone)]
pub struct TokenServices {
    /// The outbound client, with the operator's policy.
    pub idp: http::IdpClient,
    /// Where the IdP may send the browser back; the server serves these.
    pub callbacks: CallbackUrls,
    /// This replica's name in lease owners (diagnostics only; leases are per attempt).
    pub replica: String,
    /// The shipped providers plus the operator's `PROVIDERS_FILE` (SPEC §11).
    pub catalog: Arc<idp::Catalog>,
    /// `discoveryURL` documents, by URL, kept up to an hour.
    pub discovery: Arc<idp::DiscoveryCache>,
}

impl fmt::Debug for TokenServices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenServices")
            .field("idp", &self.idp)
            .field("callbacks", &self.callbacks)
            .field("replica", &self.replica)
            .field("providers", &self.catalog.providers().len())
            .finish_non_exhaustive()
    }
}

/// The server's callback URLs (SPEC §6). The resolver checks a requested `redirectUri`
/// against them but does not know the server's routes: the server names them.
#[derive(Clone, Debug)]
pub struct CallbackUrls {
    /// The external base URL (`PUBLIC_BASE_URL`), without a trailing `/`.
    pub base: String,
    /// The callback's path under `base`, e.g. `/oauth2/callback`.
    pub path: String,
    /// The per-account callback's path segments under `base`; the segment
    /// [`CallbackUrls::ACCOUNT`] stands for the caller's account.
    pub account_path: Vec<String>,
}

impl CallbackUrls {
    /// The segment of `account_path` replaced by the caller's account.
    pub const ACCOUNT: &'static str = "{account}";
}
