//! `query oauthProviders` (SPEC §11): the provider catalog as Space UIs see it — the
//! shipped entries and the operator's `PROVIDERS_FILE` entries, with the placeholders
//! each entry's URLs need from the details.

use async_graphql::{Context, Object, Result, SimpleObject};

use super::types::GrantType;
use crate::Services;
use crate::context::caller;

/// One catalog entry, for choosing a provider in a Space UI. URLs are templates:
/// `{name}` is filled from the details' value of that name.
#[derive(SimpleObject)]
#[graphql(name = "OAuthProvider")]
pub struct OAuthProvider {
    /// What `oauthConnectorDetails.provider` names.
    pub name: String,
    pub display_name: String,
    /// The grants the provider supports.
    pub grant_types: Vec<GrantType>,
    #[graphql(name = "authorizationTokenURL")]
    pub authorization_token_url: String,
    #[graphql(name = "accessTokenURL")]
    pub access_token_url: String,
    /// The default scope, space-separated.
    pub scope: Option<String>,
    /// The details values the URLs need, e.g. `tenant`.
    pub placeholders: Vec<String>,
}

impl From<&idp::Provider> for OAuthProvider {
    fn from(p: &idp::Provider) -> Self {
        Self {
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            grant_types: p.grant_types.iter().copied().map(GrantType::from).collect(),
            authorization_token_url: p.authorization_token_url.clone(),
            access_token_url: p.access_token_url.clone(),
            scope: p.scope.clone(),
            placeholders: p.placeholders.clone(),
        }
    }
}

/// The catalog query.
#[derive(Default)]
pub struct ProvidersQuery;

#[Object]
impl ProvidersQuery {
    /// Every identity provider this server knows, shipped entries first.
    #[graphql(name = "oauthProviders")]
    async fn oauth_providers(&self, ctx: &Context<'_>) -> Result<Vec<OAuthProvider>> {
        // The usual headers: an authenticated caller in a Space (SPEC §2).
        caller(ctx)?;
        let catalog = &Services::of(ctx)?.tokens.catalog;
        Ok(catalog
            .providers()
            .iter()
            .map(OAuthProvider::from)
            .collect())
    }
}
