//! The Test Connection mutation (SPEC §12).

use async_graphql::{Context, Object, Result};

use super::service;
use super::types::ConnectionTest;
use crate::Services;
use crate::connector_details::types::KeyInput;
use crate::context::caller;
use crate::tokens::lease_wait::LeaseWaitBudget;

/// Test Connection.
#[derive(Default)]
pub struct ConnectionTestMutation;

#[Object]
impl ConnectionTestMutation {
    /// Checks that the connection's settings are complete, its client secret is held,
    /// a token can be had, and (when the details name a `testURL`) that the API answers
    /// it. Never answers a token; `NOT_FOUND` when there is no record at the key.
    #[graphql(name = "testIPackInstanceOauthConnection")]
    async fn test(&self, ctx: &Context<'_>, input: KeyInput) -> Result<ConnectionTest> {
        let tenant = caller(ctx)?.tenant();
        Ok(service::run(Services::of(ctx)?, tenant, input, &LeaseWaitBudget::of(ctx)).await?)
    }
}
