//! Refreshing one held token under the lease (SPEC §6), shared by the refresh mutation,
//! the token query and the background refresher. After taking the lease the row is read
//! again, so a token another replica just refreshed is not refreshed twice and its
//! (possibly rotated) refresh token is the one presented.

use std::time::Duration;

use entity::connector_details::Model as Record;
use entity::oauth_token::Model as Token;

use super::grants::{self, IssuedToken};
use super::settings::IdpSettings;
use super::types::GrantType;
use super::{lease, store};
use crate::Services;
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;

/// What one refresh attempt came to.
pub enum Outcome {
    /// A new token was obtained and stored.
    Refreshed(Token),
    /// No refresh was needed (any more): the current token.
    Current(Token),
    /// Another task holds the lease.
    Busy,
    /// No valid token is held for the record.
    Gone,
    /// The refresh failed; the held token is kept and the failure recorded.
    Failed(ApiError, Token),
}

/// True when `token` can be refreshed at all: it has a refresh token, or it came from
/// the client-credentials grant, which is simply asked again.
pub fn refreshable(token: &Token) -> bool {
    token.sealed_refresh_token.is_some()
        || GrantType::parse(&token.grant_type) == Some(GrantType::ClientCredentials)
}

/// One attempt: take the lease, re-read, refresh if `needed` still says so, write back.
pub async fn attempt(
    services: &Services,
    record: &Record,
    needed: impl Fn(&Token) -> bool,
) -> ApiResult<Outcome> {
    let db = &services.db;
    let lease_time = chrono::Duration::from_std(services.tokens.idp.policy().timeout)
        .unwrap_or_else(|_| chrono::Duration::seconds(10))
        + chrono::Duration::seconds(20);
    let Some(lease) = lease::take(db, record.id, &services.tokens.replica, lease_time).await?
    else {
        return Ok(if store::valid_token(db, record).await?.is_some() {
            Outcome::Busy
        } else {
            Outcome::Gone
        });
    };
    let token = match store::valid_token(db, record).await? {
        Some(token) => token,
        None => return Ok(Outcome::Gone),
    };
    if !needed(&token) {
        lease::release(db, &lease).await?;
        return Ok(Outcome::Current(token));
    }
    match obtain(services, record, &token).await {
        Ok(issued) => {
            let key = RecordKey::of(record);
            if lease::complete(db, &services.vault, &key, &lease, &issued).await? {
                tracing::info!(connector = %record.id, "token refreshed");
                metrics::counter!("spaces_oauth_token_refreshes_total", "outcome" => "refreshed")
                    .increment(1);
            }
            Ok(match store::valid_token(db, record).await? {
                Some(current) => Outcome::Refreshed(current),
                None => Outcome::Gone,
            })
        }
        Err(error) => {
            let failures = token.failure_count.saturating_add(1);
            tracing::warn!(connector = %record.id, failures, %error, "token refresh failed");
            lease::fail(db, &lease, failures, &describe(&error)).await?;
            metrics::counter!("spaces_oauth_token_refreshes_total", "outcome" => "failed")
                .increment(1);
            Ok(Outcome::Failed(error, token))
        }
    }
}

/// Attempts until the lease is free or `wait` has passed; then reports what the other
/// holder left behind (`Current`) rather than `Busy`.
pub async fn attempt_waiting(
    services: &Services,
    record: &Record,
    needed: impl Fn(&Token) -> bool,
    wait: Duration,
) -> ApiResult<Outcome> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match attempt(services, record, &needed).await? {
            Outcome::Busy if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Outcome::Busy => {
                return Ok(match store::valid_token(&services.db, record).await? {
                    Some(token) => Outcome::Current(token),
                    None => Outcome::Gone,
                });
            }
            other => return Ok(other),
        }
    }
}

async fn obtain(services: &Services, record: &Record, token: &Token) -> ApiResult<IssuedToken> {
    let vault = &services.vault;
    let settings = IdpSettings::load(&services.tokens, vault, record).await?;
    let idp = &services.tokens.idp;
    let mut issued = match store::open_refresh(vault, record, token)? {
        Some(refresh_token) => grants::refresh(idp, &settings, &refresh_token).await,
        None if refreshable(token) => grants::client_credentials(idp, &settings).await,
        None => Err(no_refresh_token()),
    }?;
    let fresh = std::mem::take(&mut issued.provider_values);
    issued.provider_values = store::merge_values(vault, record, token, fresh)?;
    Ok(issued)
}

/// The `lastError` text of a failed refresh: the IdP's code and description, or the
/// error's message (never a secret: errors carry none).
fn describe(error: &ApiError) -> String {
    match error {
        ApiError::IdpTokenRequestFailed {
            idp_error: Some(code),
            message,
        } if code != message => format!("{code}: {message}"),
        ApiError::IdpTokenRequestFailed { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The error for a token that cannot be refreshed.
pub fn no_refresh_token() -> ApiError {
    ApiError::IdpTokenRequestFailed {
        idp_error: None,
        message: "the identity provider issued no refresh token; generate a new token".into(),
    }
}
