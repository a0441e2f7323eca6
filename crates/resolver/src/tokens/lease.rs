//! The refresh lease (SPEC §6, §10): several replicas share one database, and each token
//! is refreshed by exactly one of them. A lease is a (owner, expiry) pair on the token
//! row, taken with one conditional UPDATE; whoever changed the row wins, everyone else
//! sees zero rows affected. The expiry comes from the database's clock (replicas' clocks
//! may disagree) and outlives the IdP call it covers. Results are written back only while
//! the lease is still held, so a holder whose lease was taken over cannot store, and a
//! refresh token is presented at most once even when providers rotate them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::oauth_token::{Column, Entity};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, UpdateMany,
};
use uuid::Uuid;

use super::grants::IssuedToken;
use super::store::{expires_at, seal_values};
use crate::db_clock;
use crate::error::ApiResult;
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};
use secrecy::ExposeSecret;

/// A held lease on one token row.
#[derive(Debug)]
pub struct Lease {
    pub connector_id: Uuid,
    pub owner: String,
}

/// Takes the lease of `connector_id` for `duration` (by the database's clock) if nobody
/// holds a live one.
pub async fn take(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
    replica: &str,
    duration: Duration,
) -> ApiResult<Option<Lease>> {
    let backend = db.get_database_backend();
    // Unique per attempt, so two tasks of one replica never mistake each other's lease.
    let owner = format!("{replica}/{}", crate::random_uuid().simple());
    let result = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(owner.clone()))
        .col_expr(
            Column::LeaseExpiresAt,
            db_clock::now_plus(backend, duration),
        )
        .filter(Column::ConnectorId.eq(connector_id))
        .filter(free(backend))
        .exec(db)
        .await?;
    Ok((result.rows_affected == 1).then_some(Lease {
        connector_id,
        owner,
    }))
}

/// Gives the lease back without changing the token.
pub async fn release(db: &impl ConnectionTrait, lease: &Lease) -> ApiResult<()> {
    give_back(Entity::update_many(), lease).exec(db).await?;
    Ok(())
}

/// Writes a refreshed token and releases the lease; false when the lease was lost (the
/// token was regenerated or dropped meanwhile) and nothing was written. A response
/// without a refresh token keeps the one held. `issued.provider_values` are stored as
/// given: the caller merged them over the held ones.
pub async fn complete(
    db: &impl ConnectionTrait,
    vault: &Vault,
    key: &RecordKey,
    lease: &Lease,
    issued: &IssuedToken,
) -> ApiResult<bool> {
    let now = Utc::now();
    let mut update = give_back(Entity::update_many(), lease)
        .col_expr(
            Column::SealedAccessToken,
            Expr::value(vault.seal(key, Slot::AccessToken, issued.access_token.expose_secret())),
        )
        .col_expr(
            Column::SealedProviderValues,
            Expr::value(seal_values(vault, key, &issued.provider_values)),
        )
        .col_expr(Column::TokenType, Expr::value(issued.token_type.clone()))
        .col_expr(Column::ExpiresAt, Expr::value(expires_at(issued, now)))
        .col_expr(Column::LastRefreshedAt, Expr::value(now))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::LastIdpError, Expr::value(Option::<String>::None))
        .col_expr(Column::FailureCount, Expr::value(0))
        .col_expr(
            Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    if let Some(refresh) = &issued.refresh_token {
        update = update.col_expr(
            Column::SealedRefreshToken,
            Expr::value(vault.seal(key, Slot::RefreshToken, refresh.expose_secret())),
        );
    }
    if let Some(scope) = &issued.scope {
        update = update.col_expr(Column::Scope, Expr::value(scope.clone()));
    }
    let result = update.exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// A failed refresh, as [`fail`] records it.
pub struct Failure<'a> {
    /// Consecutive failures, this one included.
    pub failures: i32,
    /// The `lastError` text (never a secret).
    pub error: &'a str,
    /// The IdP's `error` code, when it sent one.
    pub idp_error: Option<&'a str>,
    /// How long the IdP asked us to wait (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// Records a transient failure and releases the lease; the token itself is kept. The
/// next background attempt waits `backoff(failures)`, or the IdP's `Retry-After` when
/// that is longer (SPEC §10). False when the lease was lost and nothing was written.
pub async fn fail(
    db: &impl ConnectionTrait,
    lease: &Lease,
    failure: &Failure<'_>,
) -> ApiResult<bool> {
    let wait = failure
        .retry_after
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map_or(backoff(failure.failures), |d| {
            d.max(backoff(failure.failures))
        });
    let next = Utc::now() + wait;
    let result = record_failure(give_back(Entity::update_many(), lease), failure)
        .col_expr(Column::NextAttemptAt, Expr::value(next))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records a terminal refusal and releases the lease: the token is kept (served while
/// valid) but marked, so nothing retries it until a new generation or callback (SPEC
/// §10). Applies only while the row still holds the refresh token that was refused
/// (`sealed_refresh_token`): a newer one stored meanwhile is not marked. False when
/// nothing was written.
pub async fn refuse(
    db: &impl ConnectionTrait,
    lease: &Lease,
    failure: &Failure<'_>,
    sealed_refresh_token: Option<&str>,
) -> ApiResult<bool> {
    let refused = match sealed_refresh_token {
        Some(sealed) => Column::SealedRefreshToken.eq(sealed),
        None => Column::SealedRefreshToken.is_null(),
    };
    let result = record_failure(give_back(Entity::update_many(), lease), failure)
        .col_expr(Column::ReauthorizationRequiredAt, Expr::value(Utc::now()))
        .col_expr(
            Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(refused)
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

fn record_failure(update: UpdateMany<Entity>, failure: &Failure<'_>) -> UpdateMany<Entity> {
    update
        .col_expr(Column::LastError, Expr::value(failure.error.to_owned()))
        .col_expr(
            Column::LastIdpError,
            Expr::value(failure.idp_error.map(str::to_owned)),
        )
        .col_expr(Column::FailureCount, Expr::value(failure.failures))
}

/// A condition true while nobody holds a live lease on the row (database clock).
pub fn free(backend: DbBackend) -> Condition {
    Condition::any()
        .add(Column::LeaseOwner.is_null())
        .add(Expr::col(Column::LeaseExpiresAt).lt(db_clock::now(backend)))
}

/// Exponential backoff after `failures` consecutive failures: 5 s, 10 s, 20 s, …,
/// at most 15 minutes.
pub fn backoff(failures: i32) -> chrono::Duration {
    let exponent = failures.clamp(1, 20) - 1;
    let seconds = Ord::min(5i64.saturating_mul(1i64 << exponent), 15 * 60);
    chrono::Duration::seconds(seconds)
}

/// `update`, applied only while `lease` is held, also releasing it.
fn give_back(update: UpdateMany<Entity>, lease: &Lease) -> UpdateMany<Entity> {
    update
        .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(held(lease))
}

fn held(lease: &Lease) -> Condition {
    Condition::all()
        .add(Column::ConnectorId.eq(lease.connector_id))
        .add(Column::LeaseOwner.eq(lease.owner.as_str()))
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_fifteen_minutes() {
        assert_eq!(backoff(1).num_seconds(), 5);
        assert_eq!(backoff(2).num_seconds(), 10);
        assert_eq!(backoff(4).num_seconds(), 40);
        assert_eq!(backoff(30).num_seconds(), 900);
    }
}
