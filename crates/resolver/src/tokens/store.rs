//! Database work for held tokens (SPEC §5, §6): storing an issued token sealed under the
//! record's key, reading the token that is still valid for the record's settings, and
//! dropping tokens. A token issued under other settings (its fingerprint differs from
//! the record's) is treated as absent and removed when seen.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::connector_details::{self, Model as Record};
use entity::oauth_token::{ActiveModel, Column, Entity, Model};
use entity::{oauth_state, oauth_token};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use events::{ConnectionStatus, EventType, Events};

use super::grants::IssuedToken;
use super::types::GrantType;
use crate::connection_events::emit;
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// Stores a newly generated token for `record` and sets `isTokenGenerated` (SPEC §6),
/// unless the record's token settings changed since `record` was read; the
/// `connection.token_generated` event goes in the same transaction (SPEC §12).
pub async fn store_generated(
    db: &DatabaseConnection,
    events: &Events,
    vault: &Vault,
    record: &Record,
    grant: GrantType,
    issued: &IssuedToken,
) -> ApiResult<()> {
    let key = RecordKey::of(record);
    let now = Utc::now();
    let row = ActiveModel {
        connector_id: Set(record.id),
        grant_type: Set(grant.as_str().to_owned()),
        sealed_access_token: Set(vault.seal(
            &key,
            Slot::AccessToken,
            issued.access_token.expose_secret(),
        )),
        sealed_refresh_token: Set(issued
            .refresh_token
            .as_ref()
            .map(|t| vault.seal(&key, Slot::RefreshToken, t.expose_secret()))),
        token_type: Set(issued.token_type.clone()),
        scope: Set(issued.scope.clone()),
        expires_at: Set(expires_at(issued, now)),
        fingerprint: Set(record.token_settings_fingerprint.clone()),
        issued_at: Set(now),
        last_refreshed_at: Set(None),
        last_error: Set(None),
        failure_count: Set(0),
        next_attempt_at: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
    };
    let txn = db.begin().await?;
    // A new token replaces the old one wholesale, including any lease: a refresh in
    // flight elsewhere then finds its lease gone and discards its result.
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::ConnectorId)
                .update_columns([
                    Column::GrantType,
                    Column::SealedAccessToken,
                    Column::SealedRefreshToken,
                    Column::TokenType,
                    Column::Scope,
                    Column::ExpiresAt,
                    Column::Fingerprint,
                    Column::IssuedAt,
                    Column::LastRefreshedAt,
                    Column::LastError,
                    Column::FailureCount,
                    Column::NextAttemptAt,
                    Column::LeaseOwner,
                    Column::LeaseExpiresAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let marked = connector_details::Entity::update_many()
        .col_expr(
            connector_details::Column::IsTokenGenerated,
            Expr::value(true),
        )
        .col_expr(connector_details::Column::UpdatedAt, Expr::value(now))
        .filter(connector_details::Column::Id.eq(record.id))
        .filter(
            connector_details::Column::TokenSettingsFingerprint
                .eq(record.token_settings_fingerprint.as_str()),
        )
        .exec(&txn)
        .await?;
    // A token stored under settings that changed meanwhile is no token: no event.
    let emitted = if marked.rows_affected > 0 {
        let kind = EventType::TokenGenerated;
        Some(emit::emit(events, &txn, kind, record, ConnectionStatus::Active).await?)
    } else {
        None
    };
    txn.commit().await?;
    if let Some(emitted) = emitted {
        events.committed(emitted);
    }
    Ok(())
}

/// When a token issued at `now` expires.
pub fn expires_at(issued: &IssuedToken, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    issued
        .expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| now.checked_add_signed(d))
}

/// The token row of `connector_id`, whatever its fingerprint.
pub async fn row(db: &impl ConnectionTrait, connector_id: Uuid) -> ApiResult<Option<Model>> {
    Ok(Entity::find_by_id(connector_id).one(db).await?)
}

/// The token rows of `connector_ids`, by connector, in one query (a list's `tokenStatus`).
pub async fn rows(
    db: &impl ConnectionTrait,
    connector_ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, Model>> {
    let rows = Entity::find()
        .filter(Column::ConnectorId.is_in(connector_ids))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.connector_id, row))
        .collect())
}

/// The token held for `record` if it is still valid for the record's settings.
pub async fn valid_token(db: &impl ConnectionTrait, record: &Record) -> ApiResult<Option<Model>> {
    let Some(token) = row(db, record.id).await? else {
        return Ok(None);
    };
    if token.fingerprint == record.token_settings_fingerprint {
        return Ok(Some(token));
    }
    // The settings changed since the token was issued (SPEC §6): it is gone.
    Entity::delete_many()
        .filter(Column::ConnectorId.eq(record.id))
        .filter(Column::Fingerprint.eq(token.fingerprint.as_str()))
        .exec(db)
        .await?;
    Ok(None)
}

/// Drops the token and pending authorizations of `connector_id`, and clears
/// `isTokenGenerated` (revoke, reset — SPEC §3).
pub async fn drop_tokens(db: &impl ConnectionTrait, connector_id: Uuid) -> ApiResult<()> {
    oauth_token::Entity::delete_many()
        .filter(oauth_token::Column::ConnectorId.eq(connector_id))
        .exec(db)
        .await?;
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ConnectorId.eq(connector_id))
        .exec(db)
        .await?;
    connector_details::Entity::update_many()
        .col_expr(
            connector_details::Column::IsTokenGenerated,
            Expr::value(false),
        )
        .col_expr(
            connector_details::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(connector_details::Column::Id.eq(connector_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The access token of `token`, opened for the runtime.
pub fn open_access(vault: &Vault, record: &Record, token: &Model) -> ApiResult<SecretString> {
    vault
        .open(
            &RecordKey::of(record),
            Slot::AccessToken,
            &token.sealed_access_token,
        )
        .map_err(ApiError::internal)
}

/// The refresh token of `token`, if one is held.
pub fn open_refresh(
    vault: &Vault,
    record: &Record,
    token: &Model,
) -> ApiResult<Option<SecretString>> {
    token
        .sealed_refresh_token
        .as_deref()
        .map(|sealed| {
            vault
                .open(&RecordKey::of(record), Slot::RefreshToken, sealed)
                .map_err(ApiError::internal)
        })
        .transpose()
}
