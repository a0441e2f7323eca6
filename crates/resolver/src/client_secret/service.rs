//! Database work for the client-secret buttons.

use chrono::Utc;
use entity::connector_details::{Column, Entity, Model};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};

use crate::details::is_client_secret_pointer;
use crate::details::new_secret::NewClientSecret;
use crate::details::sealed::{open_details, seal_details};
use crate::error::{ApiError, ApiResult};
use crate::held_token::drop_tokens;
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// Seals `secret` as the record's client secret; `NOT_FOUND` when there is no record.
pub async fn encrypt(
    db: &impl ConnectionTrait,
    vault: &Vault,
    key: &RecordKey,
    secret: &str,
) -> ApiResult<Model> {
    let secret = NewClientSecret::parse(secret)?.ok_or_else(|| {
        ApiError::invalid_input("clientSecret", "clientSecret must be the real secret")
    })?;
    let sealed = vault.seal(key, Slot::ClientSecret, secret.expose());
    let updated = Entity::update_many()
        .col_expr(Column::SealedClientSecret, Expr::value(sealed))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(key.condition())
        .exec_with_returning(db)
        .await?;
    updated.into_iter().next().ok_or(ApiError::NotFound)
}

/// Drops the client secret wherever the record holds it — the vault slot and any
/// `client_secret` / `clientSecret` value vaulted inside the details (SPEC §10) — and
/// any held token, and marks the token as not generated (SPEC §3). Run it in a
/// transaction.
pub async fn reset(db: &impl ConnectionTrait, vault: &Vault, key: &RecordKey) -> ApiResult<Model> {
    let record = key.find_for_update(db).await?.ok_or(ApiError::NotFound)?;
    let mut vaulted = open_details(vault, &record)?;
    vaulted.retain(|pointer, _| !is_client_secret_pointer(pointer));
    let updated = Entity::update_many()
        .col_expr(
            Column::SealedClientSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            Column::SealedDetailsSecrets,
            Expr::value(seal_details(vault, key, &vaulted)?),
        )
        .col_expr(Column::IsTokenGenerated, Expr::value(false))
        .col_expr(Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(key.condition())
        .exec_with_returning(db)
        .await?;
    let record = updated.into_iter().next().ok_or(ApiError::NotFound)?;
    drop_tokens(db, record.id).await?;
    Ok(record)
}
