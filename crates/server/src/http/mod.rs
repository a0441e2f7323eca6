//! The HTTP surface: routes, middleware and the GraphQL-shaped error envelope.

pub mod auth;
pub mod callback;
pub mod cors;
pub mod error;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod timeout;
pub mod ws;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use resolver::Code;

use crate::state::AppState;
use error::HttpError;
use request_id::RequestId;

/// The service's router. Layers, outermost first: request id (so every response and
/// log line has one), metrics, CORS (preflights answered before any limit), the request
/// time limit, the body size limit (SPEC §8).
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let body_limit = state.limits.max_body_bytes;
    let timeout = state.limits.request_timeout();
    let cors = cors::layer(&state.cors_allowed_origins)?;
    let router = Router::new()
        .route(
            "/graphql",
            get(graphql::get)
                .post(graphql::post)
                .fallback(method_not_allowed),
        )
        .route(
            &format!("{}/{{file}}", graphiql::ASSET_PREFIX),
            get(graphiql::asset),
        )
        .route("/graphql/ws", get(ws::upgrade))
        .route(callback::PATH, get(callback::callback))
        .route(callback::ACCOUNT_PATH, get(callback::account_callback))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            timeout::limit,
        ));
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    Ok(router
        .route_layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state))
}

/// Unknown paths, in the error envelope with the request id (SPEC §7).
async fn not_found(Extension(id): Extension<RequestId>) -> Response {
    HttpError::new(StatusCode::NOT_FOUND, Code::NotFound, "no such endpoint")
        .into_response_for(&id.0)
}

/// `/graphql` with a method other than GET/POST (CORS preflights are answered before).
async fn method_not_allowed(Extension(id): Extension<RequestId>) -> Response {
    HttpError {
        allow: Some("GET, POST"),
        ..HttpError::bad_request(
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "/graphql takes GET (queries) and POST",
        )
    }
    .into_response_for(&id.0)
}

/// The headers of an HTML page of ours (GraphiQL, the OAuth callback): `csp`, never
/// cached (it may hold a token or a code), never framed, no referrer, no sniffing.
pub(crate) fn set_page_headers(headers: &mut HeaderMap, csp: &str) {
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
