//! Database work for held tokens (SPEC §5, §6): storing an issued token sealed under the
//! record's key, reading the token that is still valid for the record's settings, and
//! dropping tokens. A token issued under other settings (its fingerprint differs from
//! the record's) is treated as absent and removed when seen.

use chrono::{DateTime, Utc};
use entity::connector_details::{self, Model as Record};
use entity::oauth_token::{ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use secrecy::{ExposeSecret, SecretString};

use events::{EventType, Events};

use super::grants::IssuedToken;
use super::types::GrantType;
use crate::code::Code;
use crate::connection_events::emit;
use crate::details::{fingerprint, sealed};
use crate::error::ApiResult;
use crate::held_token::row;
use crate::lifecycle::{self, ConnectionStatus};
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
        // A new generation starts over (SPEC §10): nothing of an old refusal remains.
        reauthorization_required_at: Set(None),
        last_idp_error: Set(None),
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
                    Column::ReauthorizationRequiredAt,
                    Column::LastIdpError,
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
        .filter(fingerprint::unchanged(record))
        .exec(&txn)
        .await?;
    // A token stored under settings that changed meanwhile is no token: no event.
    let emitted = if marked.rows_affected > 0 {
        lifecycle::enter(&txn, record.id, ConnectionStatus::Active).await?;
        let kind = EventType::TokenGenerated;
        let active = ConnectionStatus::Active.into();
        Some(emit::emit(events, &txn, kind, record, active).await?)
    } else {
        None
    };
    txn.commit().await?;
    if let Some(emitted) = emitted {
        events.committed(emitted);
    }
    Ok(())
}

/// Marks `token` of `record` as needing re-authorization: it has expired and neither a
/// refresh token nor a non-interactive grant can renew it (SPEC §10); the
/// `connection.needs_reauthorization` event goes in the same transaction (SPEC §12).
/// Only that very token is marked, not one generated since it was read.
pub async fn mark_unrenewable(
    db: &DatabaseConnection,
    events: &Events,
    record: &Record,
    token: &Model,
) -> ApiResult<()> {
    let txn = db.begin().await?;
    let marked = Entity::update_many()
        .col_expr(Column::ReauthorizationRequiredAt, Expr::value(Utc::now()))
        .filter(Column::ConnectorId.eq(token.connector_id))
        .filter(Column::SealedAccessToken.eq(token.sealed_access_token.as_str()))
        .filter(Column::ReauthorizationRequiredAt.is_null())
        .exec(&txn)
        .await?;
    let mut emitted = None;
    if marked.rows_affected == 1 {
        let to = ConnectionStatus::NeedsReauthorization;
        if let Some(from) = lifecycle::enter(&txn, record.id, to).await? {
            let error = lifecycle::event_error(Code::ReauthorizationRequired, None);
            emitted = lifecycle::announce(events, &txn, record, from, to, Some(error)).await?;
        }
    }
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

/// The token held for `record` if it is still valid for the record's settings.
pub async fn valid_token(db: &impl ConnectionTrait, record: &Record) -> ApiResult<Option<Model>> {
    let Some(token) = row(db, record.id).await? else {
        return Ok(None);
    };
    if fingerprint::matches(&token.fingerprint, &record.token_settings_fingerprint) {
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

/// The access token of `token`, opened for the runtime.
pub fn open_access(vault: &Vault, record: &Record, token: &Model) -> ApiResult<SecretString> {
    sealed::open(vault, record, Slot::AccessToken, &token.sealed_access_token)
}

/// The refresh token of `token`, if one is held.
pub fn open_refresh(
    vault: &Vault,
    record: &Record,
    token: &Model,
) -> ApiResult<Option<SecretString>> {
    sealed::open_optional(
        vault,
        record,
        Slot::RefreshToken,
        &token.sealed_refresh_token,
    )
}
