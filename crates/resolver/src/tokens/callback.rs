//! The end of the authorization-code flow (SPEC §6): the IdP sent the browser back with
//! `code` and `state`; the state's pending authorization is consumed (once), the code is
//! exchanged with the PKCE verifier, and the token is stored with the provider values
//! of the callback's query (e.g. QuickBooks' `realmId`) and of the token answer
//! (SPEC §11). The HTTP page around it is the server's.

use entity::connector_details::{Entity as Records, Model as Record};
use idp::ProviderValues;
use sea_orm::EntityTrait;

use super::grants;
use super::settings::IdpSettings;
use super::types::GrantType;
use super::{states, store};
use crate::Services;
use crate::details::{fingerprint, sealed};
use crate::error::{ApiError, ApiResult};
use crate::vault::Slot;

/// Why a callback did not produce a token.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Unknown, reused, expired or foreign `state`.
    #[error(
        "this authorization link is unknown, expired or was already used; generate the token again"
    )]
    UnknownState,
    /// The exchange failed (IdP refusal, unreachable IdP, changed settings, …).
    #[error(transparent)]
    Failed(#[from] ApiError),
}

/// Completes the authorization of `state` with `code`. `path_account` is the account of
/// `/account/{accountId}/oauth2/callback`, which must own the record; `query_values`
/// are the callback's provider values ([`ProviderValues::from_callback_query`]), kept
/// with the token under the token answer's own.
pub async fn complete(
    services: &Services,
    state: &str,
    code: &str,
    path_account: Option<&str>,
    query_values: ProviderValues,
) -> Result<Record, CallbackError> {
    let (pending, record) = take_pending(services, state, path_account).await?;
    let result = exchange(services, &pending, &record, code, query_values).await;
    if result.is_err() {
        states::ended(&services.db, record.id).await?;
    }
    result?;
    Ok(record)
}

/// Exchanges the code of `pending` and stores the token (`ACTIVE`, SPEC §10).
async fn exchange(
    services: &Services,
    pending: &entity::oauth_state::Model,
    record: &Record,
    code: &str,
    query_values: ProviderValues,
) -> ApiResult<()> {
    if !fingerprint::matches(&pending.fingerprint, &record.token_settings_fingerprint) {
        return Err(ApiError::InvalidConnectorDetails(
            "the connector's token settings changed after the authorization started".into(),
        ));
    }
    let verifier = sealed::open(
        &services.vault,
        record,
        Slot::PkceVerifier,
        &pending.sealed_pkce_verifier,
    )?;
    let settings = IdpSettings::load(&services.tokens, &services.vault, record).await?;
    let mut issued = grants::exchange_code(
        &services.tokens.idp,
        &settings,
        code,
        &verifier,
        &pending.redirect_uri,
    )
    .await?;
    let mut values = query_values;
    values.merge(std::mem::take(&mut issued.provider_values));
    issued.provider_values = values;
    store::store_generated(
        &services.db,
        &services.events,
        &services.vault,
        record,
        GrantType::AuthorizationCode,
        &issued,
    )
    .await
}

/// Consumes `state` after the IdP reported an error, so the link cannot be reused; the
/// record leaves `PENDING_AUTHORIZATION` (SPEC §10).
pub async fn abandon(services: &Services, state: &str) -> ApiResult<()> {
    if let Some(pending) = states::consume(&services.db, state).await? {
        states::ended(&services.db, pending.connector_id).await?;
    }
    Ok(())
}

async fn take_pending(
    services: &Services,
    state: &str,
    path_account: Option<&str>,
) -> Result<(entity::oauth_state::Model, Record), CallbackError> {
    if state.is_empty() || state.len() > 512 {
        return Err(CallbackError::UnknownState);
    }
    let pending = states::consume(&services.db, state)
        .await?
        .ok_or(CallbackError::UnknownState)?;
    let record = Records::find_by_id(pending.connector_id)
        .one(&services.db)
        .await
        .map_err(ApiError::from)?
        .ok_or(CallbackError::UnknownState)?;
    if path_account.is_some_and(|account| account != record.account_id) {
        return Err(CallbackError::UnknownState);
    }
    Ok((pending, record))
}
