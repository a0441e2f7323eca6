//! Database work for connector details. Every function takes a validated `RecordKey` or
//! `Tenant`, so every statement is scoped to the caller's tenant.

use chrono::Utc;
use entity::connector_details::{ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::Services;
use crate::client_secret::service::real_secret;
use crate::context::Tenant;
use crate::details::{self, DetailSecrets, PLACEHOLDER};
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

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
/// `isTokenGenerated`.
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
    check_quota(services, key).await?;
    let masked = details::mask(fields.oauth_connector_details)?;
    let mut settings = vec![Some(fields.client_id.to_owned())];
    settings.extend(masked.token_settings.iter().cloned());
    let sealed_client_secret = real_secret(fields.client_secret)?
        .map(|secret| vault.seal(key, Slot::ClientSecret, secret));
    let now = Utc::now();
    let mut row = ActiveModel {
        client_id: Set(fields.client_id.to_owned()),
        client_secret: Set(PLACEHOLDER.to_owned()),
        sealed_client_secret: Set(sealed_client_secret),
        oauth_connector_details: Set(masked.masked),
        sealed_details_secrets: Set(seal_details(vault, key, &masked.secrets)?),
        token_settings_fingerprint: Set(fingerprint(&settings)),
        is_token_generated: Set(fields.is_token_generated),
        created_at: Set(now),
        updated_at: Set(now),
        ..key.new_row()
    };
    if masked.kept.is_empty() {
        return services.saves.save(key.clone(), row).await;
    }
    // Read then write: on SQLite a deferred transaction that read before another writer
    // committed cannot write any more (SQLITE_BUSY_SNAPSHOT), so take the write lock
    // first (BEGIN IMMEDIATE). PostgreSQL ignores the mode and locks the row below.
    let txn = services
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let mut secrets = masked.secrets;
    if let Some(existing) = find_for_update(&txn, key).await? {
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

/// Refuses a save that would create a record beyond the tenant's quota (SPEC §13);
/// updating an existing record is always allowed. Usually one query (the tenant's
/// count); whether the key exists is only asked at the quota. Saves racing each other
/// may overshoot by the number in flight: the quota bounds growth, it is not a
/// transactional invariant.
async fn check_quota(services: &Services, key: &RecordKey) -> ApiResult<()> {
    let max = services.max_records_per_tenant;
    let records = Entity::find()
        .filter(Column::SpaceGuid.eq(key.space_guid.as_str()))
        .filter(Column::AccountId.eq(key.account_id.as_str()))
        .count(&services.db)
        .await?;
    if records >= max && find(&services.db, key).await?.is_none() {
        return Err(ApiError::QuotaExceeded(max));
    }
    Ok(())
}

/// The record at `key`, if any.
pub async fn find(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<Option<Model>> {
    Ok(by_key(key).one(db).await?)
}

/// Up to `first` records of `integration_pack_instance_id` in `tenant`, oldest first
/// (ties by id), after the record whose id is `after` (SPEC §13).
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    integration_pack_instance_id: &str,
    first: u64,
    after: Option<uuid::Uuid>,
) -> ApiResult<Vec<Model>> {
    let mut select = Entity::find()
        .filter(Column::SpaceGuid.eq(tenant.space_guid()))
        .filter(Column::AccountId.eq(tenant.account_id()))
        .filter(Column::IntegrationPackInstanceId.eq(integration_pack_instance_id));
    if let Some(after) = after {
        let Some(cursor) = select.clone().filter(Column::Id.eq(after)).one(db).await? else {
            return Err(ApiError::invalid_input(
                "after",
                "after must be the id of a record of this list",
            ));
        };
        select = select.filter(
            sea_orm::Condition::any()
                .add(Column::CreatedAt.gt(cursor.created_at))
                .add(
                    sea_orm::Condition::all()
                        .add(Column::CreatedAt.eq(cursor.created_at))
                        .add(Column::Id.gt(cursor.id)),
                ),
        );
    }
    Ok(select
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(first)
        .all(db)
        .await?)
}

/// Deletes the record at `key`; true when one existed.
pub async fn delete(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<bool> {
    let result = Entity::delete_many()
        .filter(key_condition(key))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The vaulted detail values of a record (empty when none).
pub fn open_details(vault: &Vault, record: &Model) -> ApiResult<DetailSecrets> {
    let Some(sealed) = &record.sealed_details_secrets else {
        return Ok(DetailSecrets::new());
    };
    let key = RecordKey::of(record);
    let json = vault
        .open(&key, Slot::DetailsSecrets, sealed)
        .map_err(ApiError::internal)?;
    serde_json::from_str(json.expose_secret()).map_err(ApiError::internal)
}

/// Selects the record at `key`.
pub(crate) fn by_key(key: &RecordKey) -> sea_orm::Select<Entity> {
    Entity::find().filter(key_condition(key))
}

/// The WHERE condition matching exactly the record at `key`.
pub(crate) fn key_condition(key: &RecordKey) -> sea_orm::Condition {
    // The hash finds the row through its unique index; the parts rule out a collision.
    sea_orm::Condition::all()
        .add(Column::KeyHash.eq(key.key_hash()))
        .add(Column::SpaceGuid.eq(key.space_guid.as_str()))
        .add(Column::AccountId.eq(key.account_id.as_str()))
        .add(Column::IntegrationPackInstanceId.eq(key.integration_pack_instance_id.as_str()))
        .add(Column::ProcessId.eq(key.process_id.as_str()))
        .add(Column::EnvId.eq(key.env_id.as_str()))
        .add(Column::ConnectionId.eq(key.connection_id.as_str()))
}

async fn find_for_update(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<Option<Model>> {
    let mut select = by_key(key);
    if db.get_database_backend() == DbBackend::Postgres {
        select = select.lock_exclusive();
    }
    Ok(select.one(db).await?)
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
    OnConflict::column(Column::KeyHash)
        .update_columns([
            Column::ClientId,
            Column::ClientSecret,
            Column::OauthConnectorDetails,
            Column::SealedDetailsSecrets,
            Column::TokenSettingsFingerprint,
            Column::UpdatedAt,
        ])
        // "No new secret" keeps what the vault holds (SPEC §5).
        .value(
            Column::SealedClientSecret,
            Expr::cust(
                "COALESCE(excluded.sealed_client_secret, connector_details.sealed_client_secret)",
            ),
        )
        // New token settings invalidate a held token (SPEC §6).
        .value(
            Column::IsTokenGenerated,
            Expr::cust(
                "CASE WHEN connector_details.token_settings_fingerprint = \
             excluded.token_settings_fingerprint THEN excluded.is_token_generated ELSE FALSE END",
            ),
        )
        .to_owned()
}

fn seal_details(
    vault: &Vault,
    key: &RecordKey,
    secrets: &DetailSecrets,
) -> ApiResult<Option<String>> {
    if secrets.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(secrets).map_err(ApiError::internal)?;
    Ok(Some(vault.seal(key, Slot::DetailsSecrets, &json)))
}

/// A hash of the settings a held token was obtained with.
fn fingerprint(settings: &[Option<String>]) -> String {
    let mut hasher = Sha256::new();
    for setting in settings {
        match setting {
            Some(value) => {
                hasher.update([1]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    hex::encode(hasher.finalize())
}
