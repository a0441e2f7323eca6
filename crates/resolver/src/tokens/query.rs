//! The runtime's token query and the `tokenStatus` of records (SPEC §3).

use async_graphql::{ComplexObject, Context, Object, Result};

use super::lease_wait::LeaseWaitBudget;
use super::types::{AccessTokenPayload, TokenStatus};
use super::{service, store};
use crate::Services;
use crate::connector_details::types::{ConnectorDetails, KeyInput};
use crate::context::caller;
use crate::details::fingerprint;
use crate::error::ApiError;

/// The scope an integration runtime's JWT must carry to read tokens (SPEC §3).
pub const TOKEN_READ_SCOPE: &str = "oauth.token.read";

/// Token reads.
#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The decrypted access token, for integration runtimes holding `oauth.token.read`;
    /// refreshed first when it expires within 60 s.
    #[graphql(name = "iPackInstanceOauthAccessToken")]
    async fn access_token(&self, ctx: &Context<'_>, input: KeyInput) -> Result<AccessTokenPayload> {
        let caller = caller(ctx)?;
        if !caller.has_scope(TOKEN_READ_SCOPE) {
            return Err(
                ApiError::Unauthorized("reading tokens needs the oauth.token.read scope").into(),
            );
        }
        let key = input.parse(caller.tenant())?;
        let budget = &LeaseWaitBudget::of(ctx);
        Ok(service::read(Services::of(ctx)?, &key, budget).await?)
    }
}

#[ComplexObject]
impl ConnectorDetails {
    /// The held token's status, or null when no valid token is held. Never the token.
    async fn token_status(&self, ctx: &Context<'_>) -> Result<Option<TokenStatus>> {
        let token = match &self.prefetched_token {
            Some(prefetched) => prefetched.clone(),
            None => crate::held_token::row(&Services::of(ctx)?.db, self.record_id).await?,
        };
        Ok(token
            .filter(|t| fingerprint::matches(&t.fingerprint, &self.token_fingerprint))
            .as_ref()
            .map(|t| TokenStatus::of(t, self.key())))
    }
}

#[ComplexObject]
impl TokenStatus {
    /// The provider values kept with the token (SPEC §11), a JSON object string, e.g.
    /// `{"instance_url":"https://eu1.my.salesforce.com"}`; `{}` when there are none.
    /// Never a secret-named member.
    async fn provider_values(&self, ctx: &Context<'_>) -> Result<String> {
        let (key, sealed) = &self.sealed_provider_values;
        let vault = &Services::of(ctx)?.vault;
        Ok(store::open_values(vault, key, sealed.as_deref())?.to_json())
    }
}
