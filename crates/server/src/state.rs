//! The state every handler shares; cheap to clone.

use std::sync::Arc;

use resolver::{AppSchema, Services};
use sea_orm::DatabaseConnection;

use crate::auth::JwtVerifier;
use crate::config::Limits;
use crate::devmode::DevTokens;
use crate::http::graphql::{ParsedQueries, PersistedQueries};
use crate::http::rate_limit::RateLimiter;

/// Shared by all handlers. axum clones it for every handler and middleware a request
/// passes, so it is one `Arc`: a clone is a reference count, not a copy of each field.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    pub fn new(shared: SharedState) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What the handlers share.
pub struct SharedState {
    pub schema: AppSchema,
    pub verifier: Arc<JwtVerifier>,
    pub db: DatabaseConnection,
    /// What resolvers use; the OAuth callback uses it too.
    pub services: Services,
    pub limits: Limits,
    /// Present in dev mode: mints the token GraphiQL opens with.
    pub dev_tokens: Option<Arc<DevTokens>>,
    /// Per-account token buckets (SPEC §8).
    pub rate_limiter: Arc<RateLimiter>,
    /// Per-client-address token buckets of the OAuth callback (SPEC §13).
    pub callback_limiter: Arc<RateLimiter>,
    /// Automatic persisted queries (Apollo APQ).
    pub persisted_queries: Arc<PersistedQueries>,
    /// Parsed GraphQL documents by query text.
    pub parsed_queries: Arc<ParsedQueries>,
    /// Where the OAuth callback page posts its message: origins separated by spaces.
    pub space_ui_origins: Arc<str>,
    /// Origins allowed by CORS (SPEC §1).
    pub cors_allowed_origins: Arc<[String]>,
    /// Open subscription WebSockets per account (SPEC §12).
    pub sockets: events::quota::PerAccount,
}
