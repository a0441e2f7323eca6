//! Refreshing one held token under the lease (SPEC §6, §10), shared by the refresh
//! mutation, the token query and the background refresher.
//!
//! An attempt runs in a task of its own that the caller awaits: once a refresh token has
//! been sent to the IdP, the answer is stored whatever happens to the request that
//! started it (a client disconnecting, the request timeout), so a rotated refresh token
//! is never lost. After taking the lease the row is read again, so a token another
//! replica just refreshed is not refreshed twice and its (possibly rotated) refresh
//! token is the one presented. Each outcome moves the connection's status in the same
//! transaction as the token row: success `ACTIVE`, a transient failure
//! `REFRESH_FAILING`, a terminal refusal `NEEDS_REAUTHORIZATION`.

use std::sync::Arc;

use entity::connector_details::Model as Record;
use entity::oauth_token::Model as Token;
use events::{Enqueued, EventError};
use idp::FailureClass;
use sea_orm::{DatabaseTransaction, TransactionTrait};

use super::grants::{self, IssuedToken};
use super::lease::{self, Failure, Lease};
use super::lease_wait::LeaseWaitBudget;
use super::settings::IdpSettings;
use super::store;
use super::types::GrantType;
use crate::Services;
use crate::code::Code;
use crate::error::{ApiError, ApiResult};
use crate::held_token::row;
use crate::lifecycle::{self, ConnectionStatus};
use crate::record_key::RecordKey;

/// What one refresh attempt came to.
pub enum Outcome {
    /// A new token was obtained and stored.
    Refreshed(Token),
    /// No refresh was needed (any more), or another replica stored a newer token
    /// meanwhile: the current token.
    Current(Token),
    /// Another task holds the lease.
    Busy,
    /// No valid token is held for the record.
    Gone,
    /// The refresh failed; the held token is kept and the failure recorded. A terminal
    /// refusal is [`ApiError::ReauthorizationRequired`].
    Failed(ApiError, Token),
}

/// True when `token` can be refreshed at all: it has a refresh token, or it came from
/// the client-credentials grant, which is simply asked again.
pub fn refreshable(token: &Token) -> bool {
    token.sealed_refresh_token.is_some()
        || GrantType::parse(&token.grant_type) == Some(GrantType::ClientCredentials)
}

/// Whether a token (re-read under the lease) still needs the refresh.
pub type Needed = Arc<dyn Fn(&Token) -> bool + Send + Sync>;

/// One attempt: take the lease, re-read, refresh if `needed` still says so, write back.
/// Runs detached from the caller's future (see the module docs).
pub async fn attempt(
    services: &Services,
    record: &Record,
    needed: impl Fn(&Token) -> bool + Send + Sync + 'static,
) -> ApiResult<Outcome> {
    attempt_detached(services, record, Arc::new(needed)).await
}

async fn attempt_detached(
    services: &Services,
    record: &Record,
    needed: Needed,
) -> ApiResult<Outcome> {
    let (services, record) = (services.clone(), record.clone());
    tokio::spawn(async move { attempt_here(&services, &record, needed).await })
        .await
        .map_err(ApiError::internal)?
}

async fn attempt_here(services: &Services, record: &Record, needed: Needed) -> ApiResult<Outcome> {
    let db = &services.db;
    let Some(lease) = lease::take(
        db,
        record.id,
        &services.tokens.replica,
        lease_time(services),
    )
    .await?
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
    if token.reauthorization_required_at.is_some() {
        lease::release(db, &lease).await?;
        return Ok(Outcome::Failed(reauthorization_required(&token), token));
    }
    if !needed(&token) {
        lease::release(db, &lease).await?;
        return Ok(Outcome::Current(token));
    }
    match obtain(services, record, &token).await {
        Ok(issued) => stored(services, record, &lease, &issued).await,
        Err(error) => failed(services, record, &lease, token, error).await,
    }
}

/// Attempts until the lease is free or the request's lease waiting (`budget`, `wait`
/// from the first busy lease on) has run out; then reports what the other holder left
/// behind (`Current`) rather than `Busy`.
pub async fn attempt_waiting(
    services: &Services,
    record: &Record,
    needed: impl Fn(&Token) -> bool + Send + Sync + 'static,
    budget: &LeaseWaitBudget,
    wait: std::time::Duration,
) -> ApiResult<Outcome> {
    let needed: Needed = Arc::new(needed);
    let first = attempt_detached(services, record, Arc::clone(&needed)).await?;
    if !matches!(first, Outcome::Busy) {
        return Ok(first);
    }
    let deadline = budget.deadline(wait);
    if let Some(_turn) = budget.turn(deadline).await {
        while tokio::time::Instant::now() < deadline {
            let pause = deadline - tokio::time::Instant::now();
            tokio::time::sleep(pause.min(std::time::Duration::from_millis(100))).await;
            match attempt_detached(services, record, Arc::clone(&needed)).await? {
                Outcome::Busy => {}
                other => return Ok(other),
            }
        }
    }
    Ok(match store::valid_token(&services.db, record).await? {
        Some(token) => Outcome::Current(token),
        None => Outcome::Gone,
    })
}

/// How long a refresh lease lasts: the IdP call's limit plus time to store its answer,
/// so it never expires while the call it covers is still running (SPEC §10).
fn lease_time(services: &Services) -> std::time::Duration {
    services.tokens.idp.policy().timeout + std::time::Duration::from_secs(20)
}

async fn stored(
    services: &Services,
    record: &Record,
    lease: &Lease,
    issued: &IssuedToken,
) -> ApiResult<Outcome> {
    let key = RecordKey::of(record);
    let txn = services.db.begin().await?;
    let written = lease::complete(&txn, &services.vault, &key, lease, issued).await?;
    let emitted = if written {
        change(services, &txn, record, ConnectionStatus::Active, None).await?
    } else {
        None
    };
    txn.commit().await?;
    if let Some(emitted) = emitted {
        services.events.committed(emitted);
    }
    if written {
        tracing::info!(connector = %record.id, "token refreshed");
        count("refreshed");
    } else {
        // The lease was taken over or the token replaced: that holder's result stands.
        count("superseded");
    }
    Ok(match store::valid_token(&services.db, record).await? {
        Some(current) => Outcome::Refreshed(current),
        None => Outcome::Gone,
    })
}

async fn failed(
    services: &Services,
    record: &Record,
    lease: &Lease,
    token: Token,
    error: ApiError,
) -> ApiResult<Outcome> {
    let db = &services.db;
    let class = class_of(&error);
    let text = describe(&error);
    let failure = Failure {
        failures: token.failure_count.saturating_add(1),
        error: &text,
        idp_error: error.idp_error(),
        retry_after: match &error {
            ApiError::Idp(failure) => failure.retry_after(),
            _ => None,
        },
    };
    tracing::warn!(connector = %record.id, failures = failure.failures, class = ?class, %error, "token refresh failed");
    if class == FailureClass::Terminal {
        // Another replica may have rotated the token meanwhile (SPEC §10): read the row
        // again, and if it holds another token, use that one and mark nothing.
        let current = row(db, record.id).await?;
        let newer = current.as_ref().is_some_and(|c| is_newer(c, &token));
        if let (true, Some(current)) = (newer, current) {
            lease::release(db, lease).await?;
            count("superseded");
            return Ok(Outcome::Current(current));
        }
        let txn = db.begin().await?;
        let marked =
            lease::refuse(&txn, lease, &failure, token.sealed_refresh_token.as_deref()).await?;
        let emitted = if marked {
            let to = ConnectionStatus::NeedsReauthorization;
            let error = lifecycle::event_error(Code::ReauthorizationRequired, failure.idp_error);
            change(services, &txn, record, to, Some(error)).await?
        } else {
            None
        };
        txn.commit().await?;
        if let Some(emitted) = emitted {
            services.events.committed(emitted);
        }
        count("terminal");
        let token = row(db, record.id).await?.unwrap_or(token);
        let error = ApiError::ReauthorizationRequired {
            idp_error: failure.idp_error.map(str::to_owned),
            message: format!(
                "the identity provider refused the grant ({text}); authorize the connection again"
            ),
        };
        return Ok(Outcome::Failed(error, token));
    }
    let txn = db.begin().await?;
    let emitted = if lease::fail(&txn, lease, &failure).await? {
        let to = ConnectionStatus::RefreshFailing;
        let error = lifecycle::event_error(error.code(), failure.idp_error);
        change(services, &txn, record, to, Some(error)).await?
    } else {
        None
    };
    txn.commit().await?;
    if let Some(emitted) = emitted {
        services.events.committed(emitted);
    }
    count(match class {
        FailureClass::Rejected => "rejected",
        _ => "transient",
    });
    Ok(Outcome::Failed(error, token))
}

/// Moves `record` to `to` in `txn` and writes the event of that change, if it has one
/// (SPEC §12); the caller passes the result to `Events::committed` after the commit.
async fn change(
    services: &Services,
    txn: &DatabaseTransaction,
    record: &Record,
    to: ConnectionStatus,
    error: Option<EventError>,
) -> ApiResult<Option<Enqueued>> {
    match lifecycle::enter(txn, record.id, to).await? {
        Some(from) => lifecycle::announce(&services.events, txn, record, from, to, error).await,
        None => Ok(None),
    }
}

/// True when `current` holds another token than `presented` (a newer refresh or a new
/// generation stored since `presented` was read).
fn is_newer(current: &Token, presented: &Token) -> bool {
    current.sealed_refresh_token != presented.sealed_refresh_token
        || current.sealed_access_token != presented.sealed_access_token
}

/// The failure class of a refresh error (SPEC §10). Errors that are not the IdP's
/// answer (settings that no longer build a request, the vault) are not the grant's
/// refusal: retried with backoff, like any non-terminal failure.
fn class_of(error: &ApiError) -> FailureClass {
    match error {
        ApiError::Idp(failure) => failure.class(),
        ApiError::ReauthorizationRequired { .. } => FailureClass::Terminal,
        ApiError::DatabaseUnavailable(_) | ApiError::Internal(_) => FailureClass::Transient,
        _ => FailureClass::Rejected,
    }
}

/// Counts a refresh by outcome class (`/metrics`).
fn count(outcome: &'static str) {
    metrics::counter!("spaces_oauth_token_refreshes_total", "outcome" => outcome).increment(1);
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

/// `REAUTHORIZATION_REQUIRED` for a token only a new authorization can renew, with the
/// IdP's `error` of the refusal that marked it (SPEC §10).
pub fn reauthorization_required(token: &Token) -> ApiError {
    ApiError::ReauthorizationRequired {
        idp_error: token.last_idp_error.clone(),
        message: match &token.last_error {
            Some(last) => format!(
                "the connection needs to be authorized again; the identity provider refused the grant ({last})"
            ),
            None => "the connection needs to be authorized again: its token has expired and cannot be renewed".into(),
        },
    }
}

/// The `lastError` text of a failed refresh: the IdP's code and description, or the
/// error's message (never a secret: errors carry none).
fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Idp(failure) => failure.to_string(),
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
