//! The HTTP surface: routes, middleware and the GraphQL-shaped error envelope.

pub mod auth;
pub mod callback;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod request_id;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::state::AppState;

/// The service's router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/oauth2/callback", get(callback::callback))
        .route(
            "/account/{account_id}/oauth2/callback",
            get(callback::account_callback),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}
