//! CORS for the configured Space UI origins (SPEC §1): a preflight may ask for the
//! platform's `SPACE_GUID` header besides `Authorization`, `Content-Type` and `Accept`.

use std::time::Duration;

use anyhow::Context as _;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::auth::SPACE_GUID_HEADER;
use super::request_id::REQUEST_ID_HEADER;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins` (`*` allows any origin); `None` when none is configured,
/// so browsers on other origins are refused by their own same-origin policy.
pub fn layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|origin| {
                HeaderValue::from_str(origin)
                    .with_context(|| format!("CORS_ALLOWED_ORIGINS: {origin:?} is not an origin"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        AllowOrigin::list(values)
    };
    // `HeaderName` is lower case; header matching is case-insensitive.
    let space_guid = HeaderName::from_bytes(SPACE_GUID_HEADER.to_ascii_lowercase().as_bytes())
        .context("SPACE_GUID is a valid header name")?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                space_guid,
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                REQUEST_ID_HEADER.clone(),
            ])
            .expose_headers([REQUEST_ID_HEADER.clone(), header::RETRY_AFTER])
            .max_age(PREFLIGHT_MAX_AGE),
    ))
}
