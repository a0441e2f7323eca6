//! The refresh lease (SPEC §6): several replicas share one database, and each token is
//! refreshed by exactly one of them. A lease is a (owner, expiry) pair on the token row,
//! taken with one conditional UPDATE; whoever changed the row wins, everyone else sees
//! zero rows affected. Results are written back only while the lease is still held, so a
//! refresh token is presented at most once even when providers rotate them.

use chrono::{DateTime, Utc};
use entity::oauth_token::{Column, Entity};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, UpdateMany};
use uuid::Uuid;

use super::grants::IssuedToken;
use super::store::{expires_at, seal_values};
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

/// Takes the lease of `connector_id` for `duration` if nobody holds a live one.
pub async fn take(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
    replica: &str,
    duration: chrono::Duration,
) -> ApiResult<Option<Lease>> {
    let now = Utc::now();
    // Unique per attempt, so two tasks of one replica never mistake each other's lease.
    let owner = format!("{replica}/{}", crate::random_uuid().simple());
    let result = Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value(owner.clone()))
        .col_expr(Column::LeaseExpiresAt, Expr::value(now + duration))
        .filter(Column::ConnectorId.eq(connector_id))
        .filter(
            Condition::any()
                .add(Column::LeaseOwner.is_null())
                .add(Column::LeaseExpiresAt.lt(now)),
        )
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

/// Records a failed refresh and releases the lease; the token itself is kept. The next
/// background attempt waits `backoff(failures)`.
pub async fn fail(
    db: &impl ConnectionTrait,
    lease: &Lease,
    failures: i32,
    error: &str,
) -> ApiResult<()> {
    let next = Utc::now() + backoff(failures);
    give_back(Entity::update_many(), lease)
        .col_expr(Column::LastError, Expr::value(error.to_owned()))
        .col_expr(Column::FailureCount, Expr::value(failures))
        .col_expr(Column::NextAttemptAt, Expr::value(next))
        .exec(db)
        .await?;
    Ok(())
}

/// Exponential backoff after `failures` consecutive failures: 5 s, 10 s, 20 s, …,
/// at most 15 minutes.
pub fn backoff(failures: i32) -> chrono::Duration {
    let exponent = failures.clamp(1, 20) - 1;
    let seconds = 5i64.saturating_mul(1i64 << exponent).min(15 * 60);
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
