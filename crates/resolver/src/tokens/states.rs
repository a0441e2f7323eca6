//! Pending authorization-code flows (SPEC §6): a `state` is stored only as its hash, with
//! the PKCE verifier sealed under the record's key, valid 10 minutes, and consumed by a
//! single conditional DELETE, so a replayed or forged callback finds nothing.

use chrono::{Duration, Utc};
use entity::connector_details::{Entity as Records, Model as Record};
use entity::oauth_state::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::store;
use crate::error::ApiResult;
use crate::lifecycle::{self, ConnectionStatus};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// How long a `state` stays valid (SPEC §6).
pub const STATE_LIFETIME_MINUTES: i64 = 10;

/// Records a pending authorization for `record`.
pub async fn create(
    db: &impl ConnectionTrait,
    vault: &Vault,
    record: &Record,
    state: &SecretString,
    verifier: &SecretString,
    redirect_uri: &str,
) -> ApiResult<()> {
    let now = Utc::now();
    let row = ActiveModel {
        state_hash: Set(hash(state.expose_secret())),
        connector_id: Set(record.id),
        sealed_pkce_verifier: Set(vault.seal(
            &RecordKey::of(record),
            Slot::PkceVerifier,
            verifier.expose_secret(),
        )),
        redirect_uri: Set(redirect_uri.to_owned()),
        fingerprint: Set(record.token_settings_fingerprint.clone()),
        expires_at: Set(now + Duration::minutes(STATE_LIFETIME_MINUTES)),
        created_at: Set(now),
    };
    Entity::insert(row).exec_without_returning(db).await?;
    Ok(())
}

/// Removes and returns the pending authorization of `state` if it exists and has not
/// expired. Of two concurrent callbacks with one state, exactly one gets it.
pub async fn consume(db: &impl ConnectionTrait, state: &str) -> ApiResult<Option<Model>> {
    let removed = Entity::delete_many()
        .filter(Column::StateHash.eq(hash(state)))
        .exec_with_returning(db)
        .await?;
    Ok(removed
        .into_iter()
        .next()
        .filter(|row| row.expires_at > Utc::now()))
}

/// The expired pending authorizations: a range of the `oauth_states_expires_at` index.
pub fn expired() -> sea_orm::DeleteMany<Entity> {
    Entity::delete_many().filter(Column::ExpiresAt.lt(Utc::now()))
}

/// Deletes expired pending authorizations, and lets their records leave
/// `PENDING_AUTHORIZATION` ([`ended`]); the background refresher calls this.
pub async fn purge_expired(db: &DatabaseConnection) -> ApiResult<u64> {
    let removed = expired().exec_with_returning(db).await?;
    for row in &removed {
        ended(db, row.connector_id).await?;
    }
    Ok(removed.len() as u64)
}

/// A pending authorization of `connector_id` ended without a token (the IdP reported an
/// error, the exchange failed, the state expired): unless another flow is still pending,
/// the record leaves `PENDING_AUTHORIZATION` for the status its held token stands for
/// (SPEC §10), e.g. `ACTIVE` again when a user abandoned a re-authorization.
pub async fn ended(db: &DatabaseConnection, connector_id: Uuid) -> ApiResult<()> {
    let pending = Entity::find()
        .filter(Column::ConnectorId.eq(connector_id))
        .filter(Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?;
    let Some(record) = Records::find_by_id(connector_id).one(db).await? else {
        return Ok(());
    };
    if pending.is_some() {
        return Ok(());
    }
    let token = store::valid_token(db, &record).await?;
    lifecycle::leave(
        db,
        connector_id,
        ConnectionStatus::PendingAuthorization,
        lifecycle::of_token(token.as_ref()),
    )
    .await?;
    Ok(())
}

fn hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}
