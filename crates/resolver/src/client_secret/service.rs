//! Database work for the client-secret buttons.

use chrono::Utc;
use entity::connector_details::{Column, Entity, Model};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};

use crate::connector_details::service::key_condition;
use crate::details::PLACEHOLDER;
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

const MAX_CLIENT_SECRET_LEN: usize = 8192;

/// Client secrets that mean "no new secret" in a save (SPEC §5).
const NO_NEW_SECRET: [&str; 3] = [PLACEHOLDER, "dummyValue", ""];

/// The real secret in a client's `clientSecret`, or none for the "no new secret" values.
pub(crate) fn real_secret(secret: &str) -> ApiResult<Option<&str>> {
    if NO_NEW_SECRET.contains(&secret) {
        return Ok(None);
    }
    if secret.chars().count() > MAX_CLIENT_SECRET_LEN {
        return Err(ApiError::invalid_input(
            "clientSecret",
            format!("clientSecret must be at most {MAX_CLIENT_SECRET_LEN} characters"),
        ));
    }
    Ok(Some(secret))
}

/// Seals `secret` as the record's client secret; `NOT_FOUND` when there is no record.
pub async fn encrypt(
    db: &impl ConnectionTrait,
    vault: &Vault,
    key: &RecordKey,
    secret: &str,
) -> ApiResult<Model> {
    let secret = real_secret(secret)?.ok_or_else(|| {
        ApiError::invalid_input("clientSecret", "clientSecret must be the real secret")
    })?;
    let sealed = vault.seal(key, Slot::ClientSecret, secret);
    let updated = Entity::update_many()
        .col_expr(Column::SealedClientSecret, Expr::value(sealed))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(key_condition(key))
        .exec_with_returning(db)
        .await?;
    updated.into_iter().next().ok_or(ApiError::NotFound)
}

/// Drops the vaulted client secret and any held token, and marks the token as not
/// generated (SPEC §3). Run it in a transaction.
pub async fn reset(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<Model> {
    let updated = Entity::update_many()
        .col_expr(
            Column::SealedClientSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(Column::IsTokenGenerated, Expr::value(false))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(key_condition(key))
        .exec_with_returning(db)
        .await?;
    let record = updated.into_iter().next().ok_or(ApiError::NotFound)?;
    crate::tokens::store::drop_tokens(db, record.id).await?;
    Ok(record)
}
