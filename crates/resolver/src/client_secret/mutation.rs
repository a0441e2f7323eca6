//! Mutations that put a client secret into the vault or drop it.

use async_graphql::{Context, InputObject, Object, Result};

use super::service;
use crate::Services;
use crate::connector_details::types::{ConnectorDetails, KeyInput};
use crate::context::caller;
use crate::error::ApiError;
use crate::record_key::{KeyFields, RecordKey};
use sea_orm::TransactionTrait;

/// A record key plus the real client secret to encrypt.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthClientSecretInput")]
pub struct ClientSecretInput {
    pub integration_pack_instance_id: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    pub catalog_guid: String,
    /// The real secret; it is encrypted and never returned.
    pub client_secret: String,
}

/// Vault operations on client secrets.
#[derive(Default)]
pub struct ClientSecretMutation;

#[Object]
impl ClientSecretMutation {
    /// Encrypts the client secret of an existing record into the vault.
    #[graphql(name = "encryptIPackInstanceOauthClientSecret")]
    async fn encrypt(
        &self,
        ctx: &Context<'_>,
        input: ClientSecretInput,
    ) -> Result<ConnectorDetails> {
        let key = RecordKey::parse(
            caller(ctx)?.tenant(),
            KeyFields {
                integration_pack_instance_id: &input.integration_pack_instance_id,
                process_id: &input.process_id,
                env_id: &input.env_id,
                connection_id: &input.connection_id,
                catalog_guid: &input.catalog_guid,
            },
        )?;
        let services = Services::of(ctx)?;
        let record =
            service::encrypt(&services.db, &services.vault, &key, &input.client_secret).await?;
        Ok(record.into())
    }

    /// Drops the vaulted client secret and any tokens held for the record.
    #[graphql(name = "resetIPackInstanceOauthClientSecret")]
    async fn reset(&self, ctx: &Context<'_>, input: KeyInput) -> Result<ConnectorDetails> {
        let key = input.parse(caller(ctx)?.tenant())?;
        let services = Services::of(ctx)?;
        let txn = services.db.begin().await.map_err(ApiError::from)?;
        let record = service::reset(&txn, &services.vault, &key).await?;
        txn.commit().await.map_err(ApiError::from)?;
        Ok(record.into())
    }
}
