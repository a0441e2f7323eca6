//! Mutations of connector details.

use async_graphql::{Context, Object, Result};

use super::service::{self, SaveFields};
use super::types::{ConnectorDetails, KeyInput, SaveInput};
use crate::Services;
use crate::context::caller;

/// Write access to connector details.
#[derive(Default)]
pub struct ConnectorDetailsMutation;

#[Object]
impl ConnectorDetailsMutation {
    /// Creates or updates the record at the input's key (documented operation). The
    /// stored `clientSecret` is always `dummyClientSecret`; a real one is vaulted.
    #[graphql(name = "saveIPackInstanceOauthConnectorDetails")]
    async fn save(&self, ctx: &Context<'_>, input: SaveInput) -> Result<ConnectorDetails> {
        let key = input.key(caller(ctx)?.tenant())?;
        let services = Services::of(ctx)?;
        let saved = service::save(
            services,
            &key,
            SaveFields {
                is_token_generated: input.is_token_generated,
                oauth_connector_details: &input.oauth_connector_details,
                client_id: &input.client_id,
                client_secret: &input.client_secret,
            },
        )
        .await?;
        Ok(saved.into())
    }

    /// Deletes the record at the key with everything vaulted for it (extension).
    /// Answers false when there was nothing to delete.
    #[graphql(name = "deleteIPackInstanceOauthConnectorDetails")]
    async fn delete(&self, ctx: &Context<'_>, input: KeyInput) -> Result<bool> {
        let key = input.parse(caller(ctx)?.tenant())?;
        let services = Services::of(ctx)?;
        Ok(service::delete(&services.db, &services.events, &key).await?)
    }
}
