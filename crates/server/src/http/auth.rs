//! Establishes the caller of a GraphQL request from its headers (SPEC §2): the bearer
//! token first, then `SPACE_GUID`, then the token's `spaces` claim.

use axum::http::{HeaderMap, StatusCode, header};
use resolver::Code;
use resolver::{Caller, SpaceGuid, SpaceGuidError};

use super::error::HttpError;
use crate::auth::{AuthError, JwtVerifier};

/// The header naming the Space (platform spelling, with an underscore).
pub const SPACE_GUID_HEADER: &str = "SPACE_GUID";

/// Authenticates the request and binds it to a tenant.
pub async fn authenticate(
    verifier: &JwtVerifier,
    headers: &HeaderMap,
) -> Result<Caller, HttpError> {
    Ok(authenticate_until(verifier, headers).await?.0)
}

/// Like [`authenticate`], also answering when the token expires (Unix seconds), for
/// sessions that outlive one request (WebSockets, SPEC §12).
pub async fn authenticate_until(
    verifier: &JwtVerifier,
    headers: &HeaderMap,
) -> Result<(Caller, Option<i64>), HttpError> {
    let token = bearer_token(headers)?;
    let claims = verifier.verify(token).await?;
    let space_guid = space_guid(headers)?;
    if !claims.allows_space(space_guid.as_str()) {
        return Err(AuthError::Forbidden.into());
    }
    let caller = Caller::authenticated(space_guid, claims.account_id, claims.scopes);
    Ok((caller, claims.expires_at))
}

fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("malformed Authorization header"))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Invalid(
        "expected `Authorization: Bearer <token>`",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Invalid(
            "expected `Authorization: Bearer <token>`",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// The parsed `SPACE_GUID` header (SPEC §2): present, at most 128 of `[A-Za-z0-9_-]`.
fn space_guid(headers: &HeaderMap) -> Result<SpaceGuid, HttpError> {
    let value = headers
        .get(SPACE_GUID_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    SpaceGuid::parse(value).map_err(|error| match error {
        SpaceGuidError::Missing => HttpError::new(
            StatusCode::BAD_REQUEST,
            Code::MissingSpaceId,
            "the SPACE_GUID header is required",
        ),
        SpaceGuidError::Invalid => HttpError::new(
            StatusCode::BAD_REQUEST,
            Code::InvalidSpaceId,
            format!(
                "SPACE_GUID must be 1 to {} characters of A-Z a-z 0-9 _ -",
                SpaceGuid::MAX_LEN
            ),
        ),
    })
}
