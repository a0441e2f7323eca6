//! Token operations behind the GraphQL fields (SPEC §3, §6): generate with each grant,
//! refresh on demand, revoke, and the runtime's read that refreshes a token about to
//! expire.

use std::time::Duration;

use chrono::Utc;
use entity::connector_details::Model as Record;
use sea_orm::TransactionTrait;
use secrecy::SecretString;

use super::grants::{self, IssuedToken};
use super::jwt_bearer::{self, AssertionParams};
use super::lease_wait::LeaseWaitBudget;
use super::refresh::{self, Outcome};
use super::settings::IdpSettings;
use super::types::{AccessTokenPayload, GenerateInput, GenerationStatus, GrantType};
use super::{CallbackUrls, states, store};
use crate::Services;
use crate::context::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{self, ConnectionStatus};
use crate::record_key::RecordKey;
use secrecy::ExposeSecret;

/// The runtime's token is refreshed first when it expires within this (SPEC §3).
pub const READ_REFRESH_MARGIN_SECONDS: i64 = 60;

/// What a generation produced.
pub struct Generated {
    pub status: GenerationStatus,
    pub authorization_url: Option<String>,
    pub record: Record,
}

/// `generateIPackInstanceOauthAccessToken` (SPEC §6).
pub async fn generate(
    services: &Services,
    tenant: &Tenant,
    input: GenerateInput,
) -> ApiResult<Generated> {
    let key = input.key.parse(tenant)?;
    if let Some(connector) = input.connector_type
        && !connector.allowed_grants().contains(&input.grant_type)
    {
        return Err(ApiError::GrantTypeNotSupported(format!(
            "grant type {} is not supported for connector type {connector:?}",
            input.grant_type.as_str()
        )));
    }
    let record = find(services, &key).await?;
    let settings = IdpSettings::load(&services.tokens, &services.vault, &record).await?;
    let idp = &services.tokens.idp;
    let issued = match input.grant_type {
        GrantType::AuthorizationCode => {
            settings.require_secret()?;
            let redirect = redirect_uri(
                &services.tokens.callbacks,
                input.redirect_uri.as_deref(),
                tenant.account_id(),
            )?;
            let start = grants::authorization_url(idp, &settings, &redirect)?;
            let txn = services.db.begin().await?;
            states::create(
                &txn,
                &services.vault,
                &record,
                &start.state,
                &start.verifier,
                &redirect,
            )
            .await?;
            // A new generation starts over (SPEC §10), whatever the held token's state.
            lifecycle::enter(&txn, record.id, ConnectionStatus::PendingAuthorization).await?;
            txn.commit().await?;
            let record = reload(services, &record).await?;
            return Ok(Generated {
                status: GenerationStatus::PendingAuthorization,
                authorization_url: Some(start.url),
                record,
            });
        }
        GrantType::ClientCredentials => grants::client_credentials(idp, &settings).await?,
        GrantType::Password => {
            let username = input
                .username
                .or_else(|| settings.detail("username"))
                .filter(|u| !u.is_empty())
                .ok_or_else(|| ApiError::invalid_input("username", "PASSWORD needs a username"))?;
            let password = input
                .password
                .or_else(|| settings.detail("password"))
                .filter(|p| !p.is_empty())
                .map(SecretString::from)
                .ok_or_else(|| ApiError::invalid_input("password", "PASSWORD needs a password"))?;
            grants::password(idp, &settings, &username, &password).await?
        }
        GrantType::JwtBearer => jwt_bearer_token(services, &settings, input.jwt).await?,
    };
    store_and_reload(services, &record, input.grant_type, &issued).await
}

async fn jwt_bearer_token(
    services: &Services,
    settings: &IdpSettings,
    jwt: Option<super::types::JwtInput>,
) -> ApiResult<IssuedToken> {
    let jwt = jwt.ok_or_else(|| ApiError::invalid_input("jwt", "JWT_BEARER needs jwt"))?;
    let client_id = settings.client_id.clone();
    let params = AssertionParams {
        signing_key: jwt.signing_key.map(SecretString::from),
        issuer: jwt.issuer.unwrap_or_else(|| client_id.clone()),
        subject: jwt.subject.unwrap_or(client_id),
        audience: match jwt.audience {
            Some(audience) => audience,
            None => settings.token_url()?.to_string(),
        },
        lifetime_seconds: i64::from(jwt.expires_in_seconds.unwrap_or(300)),
        claims: jwt.claims,
        unsigned: jwt.unsigned,
    };
    let assertion = jwt_bearer::assertion(&params)?;
    jwt_bearer::request(&services.tokens.idp, settings, &assertion).await
}

async fn store_and_reload(
    services: &Services,
    record: &Record,
    grant: GrantType,
    issued: &IssuedToken,
) -> ApiResult<Generated> {
    store::store_generated(
        &services.db,
        &services.events,
        &services.vault,
        record,
        grant,
        issued,
    )
    .await?;
    let record = reload(services, record).await?;
    Ok(Generated {
        status: GenerationStatus::Generated,
        authorization_url: None,
        record,
    })
}

/// The `redirect_uri` of an authorization request: one of the server's callback URLs
/// (SPEC §6), so codes only ever come back here.
pub fn redirect_uri(
    callbacks: &CallbackUrls,
    requested: Option<&str>,
    account: &str,
) -> ApiResult<String> {
    let base = callbacks.base.trim_end_matches('/');
    let default = format!("{base}{}", callbacks.path);
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(default);
    };
    let segments = callbacks.account_path.iter().map(|segment| {
        if segment == CallbackUrls::ACCOUNT {
            account
        } else {
            segment.as_str()
        }
    });
    let per_account = oauth2::url::Url::parse(&format!("{base}/"))
        .ok()
        .and_then(|mut url| {
            url.path_segments_mut()
                .ok()?
                .pop_if_empty()
                .extend(segments);
            Some(url.to_string())
        })
        .unwrap_or_else(|| default.clone());
    if requested == default || requested == per_account {
        Ok(requested.to_owned())
    } else {
        Err(ApiError::invalid_input(
            "redirectUri",
            format!("redirectUri must be {default} or {per_account}"),
        ))
    }
}

/// `refreshIPackInstanceOauthAccessToken`: a new token now, unless another request
/// refreshed it while this one waited for the lease. A connection that needs
/// re-authorization answers `REAUTHORIZATION_REQUIRED` without calling the IdP (SPEC
/// §10). The exponential backoff of the background refresher does not apply: the user
/// asked explicitly.
pub async fn refresh(
    services: &Services,
    key: &RecordKey,
    budget: &LeaseWaitBudget,
) -> ApiResult<Record> {
    let record = find(services, key).await?;
    let token = store::valid_token(&services.db, &record)
        .await?
        .ok_or(ApiError::NotFound)?;
    if token.reauthorization_required_at.is_some() {
        return Err(refresh::reauthorization_required(&token));
    }
    if !refresh::refreshable(&token) {
        if expired(&token) {
            store::mark_unrenewable(&services.db, &services.events, &record, &token).await?;
            return Err(refresh::reauthorization_required(&token));
        }
        return Err(refresh::no_refresh_token());
    }
    let started = Utc::now();
    let outcome = refresh::attempt_waiting(
        services,
        &record,
        move |t| t.last_refreshed_at.unwrap_or(t.issued_at) < started,
        budget,
        lease_wait(services),
    )
    .await?;
    match outcome {
        Outcome::Refreshed(_) | Outcome::Current(_) => reload(services, &record).await,
        Outcome::Gone | Outcome::Busy => Err(ApiError::NotFound),
        Outcome::Failed(error, _) => Err(error),
    }
}

/// `revokeIPackInstanceOauthAccessToken`: forgets the token and clears
/// `isTokenGenerated` (SPEC §3); the connection is `NOT_CONNECTED` (SPEC §10).
pub async fn revoke(services: &Services, key: &RecordKey) -> ApiResult<Record> {
    let record = find(services, key).await?;
    let txn = services.db.begin().await?;
    crate::held_token::drop_tokens(&txn, record.id).await?;
    txn.commit().await?;
    reload(services, &record).await
}

/// `iPackInstanceOauthAccessToken`: the decrypted token, refreshed first when it expires
/// within 60 s (SPEC §3). A failed refresh still answers a token that has not expired;
/// an expired one that only a new authorization can renew answers
/// `REAUTHORIZATION_REQUIRED` (SPEC §10).
pub async fn read(
    services: &Services,
    key: &RecordKey,
    budget: &LeaseWaitBudget,
) -> ApiResult<AccessTokenPayload> {
    // The record and its token in one statement.
    let (record, token) = services
        .reads
        .find(key, true)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut token = store::still_valid(&record, token).ok_or(ApiError::NotFound)?;
    let margin = chrono::Duration::seconds(READ_REFRESH_MARGIN_SECONDS);
    let needed = move |t: &entity::oauth_token::Model| {
        let now = Utc::now();
        t.expires_at.is_some_and(|e| e - margin <= now)
            && t.next_attempt_at.is_none_or(|next| next <= now)
    };
    let terminal = token.reauthorization_required_at.is_some();
    if !terminal && needed(&token) && refresh::refreshable(&token) {
        match refresh::attempt_waiting(services, &record, needed, budget, lease_wait(services))
            .await?
        {
            Outcome::Refreshed(t) | Outcome::Current(t) => token = t,
            Outcome::Gone | Outcome::Busy => return Err(ApiError::NotFound),
            Outcome::Failed(error, t) => {
                if expired(&t) {
                    return Err(error);
                }
                token = t;
            }
        }
    } else if !terminal && expired(&token) && !refresh::refreshable(&token) {
        store::mark_unrenewable(&services.db, &services.events, &record, &token).await?;
        return Err(refresh::reauthorization_required(&token));
    }
    if expired(&token) {
        if token.reauthorization_required_at.is_some() {
            return Err(refresh::reauthorization_required(&token));
        }
        return Err(ApiError::IdpTokenRequestFailed {
            idp_error: token.last_idp_error.clone(),
            message: match &token.last_error {
                Some(last) => format!("the token has expired and could not be refreshed ({last})"),
                None => "the token has expired and cannot be refreshed".into(),
            },
        });
    }
    let access = store::open_access(&services.vault, &record, &token)?;
    let values = store::open_values(
        &services.vault,
        key,
        token.sealed_provider_values.as_deref(),
    )?;
    Ok(AccessTokenPayload {
        access_token: access.expose_secret().to_owned(),
        token_type: token.token_type,
        expires_at: token.expires_at,
        provider_values: values.to_json(),
    })
}

/// True once `token`'s access token has expired.
fn expired(token: &entity::oauth_token::Model) -> bool {
    token.expires_at.is_some_and(|e| e <= Utc::now())
}

/// How long one request waits in all for leases another task holds.
fn lease_wait(services: &Services) -> Duration {
    services.tokens.idp.policy().timeout + Duration::from_secs(2)
}

async fn find(services: &Services, key: &RecordKey) -> ApiResult<Record> {
    key.find(&services.db).await?.ok_or(ApiError::NotFound)
}

async fn reload(services: &Services, record: &Record) -> ApiResult<Record> {
    find(services, &RecordKey::of(record)).await
}

#[cfg(test)]
mod tests {
    use super::{CallbackUrls, redirect_uri};

    fn callbacks(base: &str) -> CallbackUrls {
        CallbackUrls {
            base: base.to_owned(),
            path: "/oauth2/callback".to_owned(),
            account_path: ["account", CallbackUrls::ACCOUNT, "oauth2", "callback"]
                .map(str::to_owned)
                .to_vec(),
        }
    }

    #[test]
    fn the_redirect_uri_defaults_to_the_callback_under_the_public_base_url() {
        assert_eq!(
            redirect_uri(&callbacks("https://oauth.example.com/"), None, "a").unwrap(),
            "https://oauth.example.com/oauth2/callback"
        );
        assert_eq!(
            redirect_uri(
                &callbacks("https://x.example/base"),
                Some("https://x.example/base/account/a%20b/oauth2/callback"),
                "a b"
            )
            .unwrap(),
            "https://x.example/base/account/a%20b/oauth2/callback"
        );
    }

    #[test]
    fn a_redirect_uri_elsewhere_is_refused() {
        let err = redirect_uri(
            &callbacks("https://x.example"),
            Some("https://evil.example/cb"),
            "a",
        );
        assert_eq!(err.unwrap_err().code(), crate::Code::InvalidInput);
        let other_account = redirect_uri(
            &callbacks("https://x.example"),
            Some("https://x.example/account/b/oauth2/callback"),
            "a",
        );
        assert!(other_account.is_err());
    }
}
