//! Database work for held tokens (SPEC §5, §6): storing an issued token and its
//! provider values (SPEC §11) sealed under the record's key, and reading the token that
//! is still valid for the record's settings. A save that changes the settings deletes
//! the token itself (`details::fingerprint`); a reader never deletes one, since its
//! copy of the record may be older than the token it would delete (SPEC §10).

use chrono::{DateTime, Utc};
use entity::connector_details::{self, Model as Record};
use entity::oauth_token::{ActiveModel, Column, Entity, Model};
use idp::ProviderValues;
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
use crate::error::{ApiError, ApiResult};
use crate::held_token::row;
use crate::lifecycle::{self, ConnectionStatus};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// Stores a newly generated token for `record` and sets `isTokenGenerated` (SPEC §6);
/// the `connection.token_generated` event goes in the same transaction (SPEC §12).
/// If the record's token settings changed since `record` was read, nothing is stored
/// (the token was asked for with settings the record no longer has), no event is
/// written, and the answer is `INVALID_OAUTH_CONNECTOR_DETAILS`.
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
        sealed_provider_values: Set(seal_values(vault, &key, &issued.provider_values)),
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
    // The record first: this locks it (PostgreSQL), so a save changing its settings
    // waits for this transaction and its trigger then deletes the token stored here.
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
    if marked.rows_affected != 1 {
        return Err(ApiError::InvalidConnectorDetails(
            "the connector's token settings changed while the token was requested; generate it again"
                .into(),
        ));
    }
    // A new token replaces the old one wholesale, including any lease: a refresh in
    // flight elsewhere then finds its lease gone and discards its result.
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::ConnectorId)
                .update_columns([
                    Column::GrantType,
                    Column::SealedAccessToken,
                    Column::SealedRefreshToken,
                    Column::SealedProviderValues,
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
    lifecycle::enter(&txn, record.id, ConnectionStatus::Active).await?;
    let emitted = emit::emit(
        events,
        &txn,
        EventType::TokenGenerated,
        record,
        ConnectionStatus::Active.into(),
    )
    .await?;
    txn.commit().await?;
    events.committed(emitted);
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

/// The token held for `record` if it is still valid for the record's settings. A token
/// of other settings is absent to this reader and left alone: the save that changed
/// the settings deleted its own, so such a row is newer than `record`.
pub async fn valid_token(db: &impl ConnectionTrait, record: &Record) -> ApiResult<Option<Model>> {
    Ok(still_valid(record, row(db, record.id).await?))
}

/// `token`, the row held for `record`, if it is still valid for the record's settings
/// (see [`valid_token`]).
pub fn still_valid(record: &Record, token: Option<Model>) -> Option<Model> {
    token.filter(|token| {
        fingerprint::matches(&token.fingerprint, &record.token_settings_fingerprint)
    })
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

/// The sealed column value of `values` at `key`; none when there are none.
pub fn seal_values(vault: &Vault, key: &RecordKey, values: &ProviderValues) -> Option<String> {
    (!values.is_empty()).then(|| vault.seal(key, Slot::ProviderValues, &values.to_json()))
}

/// The provider values sealed at `key` (empty when none are held).
pub fn open_values(
    vault: &Vault,
    key: &RecordKey,
    sealed: Option<&str>,
) -> ApiResult<ProviderValues> {
    let Some(sealed) = sealed else {
        return Ok(ProviderValues::default());
    };
    let json = vault
        .open(key, Slot::ProviderValues, sealed)
        .map_err(ApiError::internal)?;
    ProviderValues::from_json(json.expose_secret()).map_err(ApiError::internal)
}

/// `fresh` over the values held with `token` (SPEC §11: a refresh merges its values
/// over the held ones).
pub fn merge_values(
    vault: &Vault,
    record: &Record,
    token: &Model,
    fresh: ProviderValues,
) -> ApiResult<ProviderValues> {
    let key = RecordKey::of(record);
    let mut held = open_values(vault, &key, token.sealed_provider_values.as_deref())?;
    held.merge(fresh);
    Ok(held)
}
