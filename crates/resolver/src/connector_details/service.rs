//! Database work for connector details. Every function takes a validated `RecordKey` or
//! `Tenant`, so every statement is scoped to the caller's tenant.

use chrono::Utc;
use entity::connector_details::{ActiveModel, Column, Entity, Model};
use events::{ConnectionStatus, EventType, Events};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::Services;
use crate::connection_events::emit;
use crate::context::Tenant;
use crate::details::new_secret::{self, NewClientSecret};
use crate::details::sealed::{open_details, seal_details};
use crate::details::{self, PLACEHOLDER, fingerprint};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle;
use crate::record_key::RecordKey;
use crate::vault::Slot;

const MAX_CLIENT_ID_LEN: usize = 1024;

/// The non-key fields of a save.
pub struct SaveFields<'a> {
    pub is_token_generated: bool,
    pub oauth_connector_details: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// Upserts the record at `key` (SPEC §3): the id survives, a real client secret and
/// secret-named detail values are vaulted, and a change of the token settings clears
/// `isTokenGenerated` (and deletes the held token, `details::fingerprint`). A change
/// of identity provider drops every vaulted value the save did not send anew
/// (`details::binding`, SPEC §10).
///
/// One statement in the common case, through the save queue (which may write it
/// together with other callers' saves); a transaction of its own only when the details
/// carry placeholders whose vaulted values must be read back and kept.
pub async fn save(
    services: &Services,
    key: &RecordKey,
    fields: SaveFields<'_>,
) -> ApiResult<Model> {
    let vault = &services.vault;
    if fields.client_id.chars().count() > MAX_CLIENT_ID_LEN {
        return Err(ApiError::invalid_input(
            "clientId",
            format!("clientId must be at most {MAX_CLIENT_ID_LEN} characters"),
        ));
    }
    let masked = details::mask(fields.oauth_connector_details)?;
    let sealed_client_secret = NewClientSecret::parse(fields.client_secret)?
        .map(|secret| vault.seal(key, Slot::ClientSecret, secret.expose()));
    let now = Utc::now();
    let mut row = ActiveModel {
        client_id: Set(fields.client_id.to_owned()),
        client_secret: Set(PLACEHOLDER.to_owned()),
        sealed_client_secret: Set(sealed_client_secret),
        oauth_connector_details: Set(masked.masked),
        sealed_details_secrets: Set(seal_details(vault, key, &masked.secrets)?),
        token_settings_fingerprint: Set(fingerprint::of(fields.client_id, &masked.token_settings)),
        secret_binding: Set(Some(masked.secret_binding.hash().to_owned())),
        is_token_generated: Set(fields.is_token_generated),
        created_at: Set(now),
        updated_at: Set(now),
        ..key.new_row()
    };
    if masked.kept.is_empty() {
        return services.saves.save(key.clone(), row).await;
    }
    let txn = services.db.begin().await?;
    let mut secrets = masked.secrets;
    // Placeholders keep vaulted values only while the record keeps its identity
    // provider; otherwise they mean "none" (SPEC §10).
    if let Some(existing) = key.find_for_update(&txn).await?
        && masked
            .secret_binding
            .holds(existing.secret_binding.as_deref())
    {
        let vaulted = open_details(vault, &existing)?;
        for pointer in masked.kept {
            if let Some(value) = vaulted.get(&pointer) {
                secrets.insert(pointer, value.clone());
            }
        }
        row.sealed_details_secrets = Set(seal_details(vault, key, &secrets)?);
    }
    let saved = upsert(&txn, row).await?;
    txn.commit().await?;
    Ok(saved)
}

/// The record at `key`, if any.
pub async fn find(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<Option<Model>> {
    key.find(db).await
}

/// Every record of `integration_pack_instance_id` in `tenant`, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    integration_pack_instance_id: &str,
) -> ApiResult<Vec<Model>> {
    Ok(Entity::find()
        .filter(Column::SpaceGuid.eq(tenant.space_guid()))
        .filter(Column::AccountId.eq(tenant.account_id()))
        .filter(Column::IntegrationPackInstanceId.eq(integration_pack_instance_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await?)
}

/// Deletes the record at `key`; true when one existed. The `connection.deleted` event
/// is written in the same transaction (SPEC §12).
pub async fn delete(db: &DatabaseConnection, events: &Events, key: &RecordKey) -> ApiResult<bool> {
    let txn = db.begin().await?;
    let deleted = Entity::delete_many()
        .filter(key.condition())
        .exec_with_returning(&txn)
        .await?;
    let mut emitted = Vec::with_capacity(deleted.len());
    for record in &deleted {
        emitted.push(
            emit::emit(
                events,
                &txn,
                EventType::Deleted,
                record,
                ConnectionStatus::NotConnected,
            )
            .await?,
        );
    }
    txn.commit().await?;
    emitted.into_iter().for_each(|e| events.committed(e));
    Ok(!deleted.is_empty())
}

/// INSERT … ON CONFLICT (record key) DO UPDATE … RETURNING: one round trip.
pub(super) async fn upsert(db: &impl ConnectionTrait, row: ActiveModel) -> ApiResult<Model> {
    Ok(Entity::insert(row)
        .on_conflict(on_conflict())
        .exec_with_returning(db)
        .await?)
}

/// What a save does to an existing record: the upsert's `ON CONFLICT` clause.
pub(super) fn on_conflict() -> OnConflict {
    OnConflict::columns([
        Column::SpaceGuid,
        Column::AccountId,
        Column::IntegrationPackInstanceId,
        Column::ProcessId,
        Column::EnvId,
        Column::ConnectionId,
    ])
    .update_columns([
        Column::ClientId,
        Column::ClientSecret,
        Column::OauthConnectorDetails,
        Column::SealedDetailsSecrets,
        Column::TokenSettingsFingerprint,
        Column::SecretBinding,
        Column::UpdatedAt,
    ])
    .values(
        [
            new_secret::sealed_client_secret_on_conflict(),
            fingerprint::is_token_generated_on_conflict(),
        ]
        .into_iter()
        .chain(lifecycle::status_on_conflict()),
    )
    .to_owned()
}
