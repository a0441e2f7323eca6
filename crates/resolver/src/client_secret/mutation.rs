//! Mutations that put a client secret into the vault or drop it.

use async_graphql::{Context, InputObject, Object, Result};

use super::service;
use crate::Services;
use crate::connector_details::types::{ConnectorDetails, KeyInput};
use crate::context::caller;
use crate::error::ApiError;
use sea_orm::TransactionTrait;

/// A record key plus the real client secret to encrypt.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthClientSecretInput")]
pub struct ClientSecretInput {
    #[graphql(flatten)]
    pub key: KeyInput,
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
        let key = input.key.parse(caller(ctx)?.tenant())?;
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
