//! Queries over connector details.

use async_graphql::{Context, Object, Result};

use super::service;
use super::types::{ConnectorDetails, KeyInput};
use crate::Services;
use crate::context::caller;
use crate::error::ApiError;
use crate::record_key::check_key_string;

/// Read access to connector details.
#[derive(Default)]
pub struct ConnectorDetailsQuery;

#[Object]
impl ConnectorDetailsQuery {
    /// The record at `input`'s key in the caller's tenant, or null (documented operation).
    #[graphql(name = "IPackInstanceOAuthConnectorDetails")]
    async fn find(&self, ctx: &Context<'_>, input: KeyInput) -> Result<Option<ConnectorDetails>> {
        let key = input.parse(caller(ctx)?.tenant())?;
        let found = service::find(&Services::of(ctx)?.db, &key).await?;
        Ok(found.map(Into::into))
    }

    /// Every record of one integration pack instance in the caller's tenant (extension).
    #[graphql(name = "iPackInstanceOauthConnectorDetailsList")]
    async fn list(
        &self,
        ctx: &Context<'_>,
        integration_pack_instance_id: String,
    ) -> Result<Vec<ConnectorDetails>> {
        let tenant = caller(ctx)?.tenant();
        check_key_string("integrationPackInstanceId", &integration_pack_instance_id)
            .map_err(|e| ApiError::IPackInstanceIdInvalid(e.to_string()))?;
        let db = &Services::of(ctx)?.db;
        let records = service::list(db, tenant, &integration_pack_instance_id).await?;
        let mut records: Vec<ConnectorDetails> = records.into_iter().map(Into::into).collect();
        // One query for every record's token rather than one per record.
        if ctx.look_ahead().field("tokenStatus").exists() {
            let mut tokens =
                crate::held_token::rows(db, records.iter().map(|r| r.record_id)).await?;
            for record in &mut records {
                record.prefetched_token = Some(tokens.remove(&record.record_id));
            }
        }
        Ok(records)
    }
}
