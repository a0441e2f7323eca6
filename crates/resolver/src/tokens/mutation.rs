//! Mutations that obtain, refresh and revoke tokens (SPEC §3, §6).

use async_graphql::{Context, Object, Result};

use super::lease_wait::LeaseWaitBudget;
use super::service;
use super::types::{GenerateInput, GeneratePayload};
use crate::Services;
use crate::connector_details::types::{ConnectorDetails, KeyInput};
use crate::context::caller;

/// Token generation and upkeep.
#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Obtains a token from the connector's IdP. `AUTHORIZATION_CODE` answers
    /// `PENDING_AUTHORIZATION` with the URL to open; the other grants answer `GENERATED`.
    #[graphql(name = "generateIPackInstanceOauthAccessToken")]
    async fn generate(&self, ctx: &Context<'_>, input: GenerateInput) -> Result<GeneratePayload> {
        let tenant = caller(ctx)?.tenant();
        let generated = service::generate(Services::of(ctx)?, tenant, input).await?;
        Ok(GeneratePayload {
            status: generated.status,
            authorization_url: generated.authorization_url,
            connector_details: generated.record.into(),
        })
    }

    /// Refreshes the held token now.
    #[graphql(name = "refreshIPackInstanceOauthAccessToken")]
    async fn refresh(&self, ctx: &Context<'_>, input: KeyInput) -> Result<ConnectorDetails> {
        let key = input.parse(caller(ctx)?.tenant())?;
        let budget = &LeaseWaitBudget::of(ctx);
        Ok(service::refresh(Services::of(ctx)?, &key, budget)
            .await?
            .into())
    }

    /// Forgets the held token; `isTokenGenerated` becomes false.
    #[graphql(name = "revokeIPackInstanceOauthAccessToken")]
    async fn revoke(&self, ctx: &Context<'_>, input: KeyInput) -> Result<ConnectorDetails> {
        let key = input.parse(caller(ctx)?.tenant())?;
        Ok(service::revoke(Services::of(ctx)?, &key).await?.into())
    }
}
