//! The standard grants of SPEC §6 through the `oauth2` crate: client credentials,
//! resource-owner password, the authorization-code exchange with PKCE, and refresh.
//! `accessTokenParams` go into every token request; client authentication follows
//! `refreshAuthScheme`. Answers are read by the `idp` crate, which keeps the HTTP
//! status and `Retry-After` that SPEC §10 classifies failures by.

use std::time::Duration;

use idp::{Capture, Exchange, IdpFailure, TokenRequestFormat};
use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use super::http::{IdpClient, TransportError};
use super::settings::IdpSettings;
use crate::error::{ApiError, ApiResult};

/// A token as an IdP issued it.
pub struct IssuedToken {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    pub scope: Option<String>,
}

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The parameters a token request sets itself, which `accessTokenParams` must not
/// name (SPEC §10): `grant_type`, the grant's own (`own`), `scope` when the request
/// sends one, and the client's credentials where they go in the body. `grant` names
/// the request in errors.
pub struct SetByRequest {
    grant: &'static str,
    names: Vec<&'static str>,
}

impl SetByRequest {
    /// What a request of `grant` sets. `client_id_without_secret`: the request sends
    /// `client_id` in the body even with no secret (the `oauth2` crate does).
    pub fn new(
        settings: &IdpSettings,
        grant: &'static str,
        own: &[&'static str],
        sends_scope: bool,
        client_id_without_secret: bool,
    ) -> Self {
        let mut names = vec!["grant_type"];
        names.extend_from_slice(own);
        if sends_scope && !settings.scopes.is_empty() {
            names.push("scope");
        }
        let secret_in_body = settings.client_secret.is_some() && !settings.basic_auth;
        if secret_in_body || (client_id_without_secret && settings.client_secret.is_none()) {
            names.push("client_id");
        }
        if secret_in_body {
            names.push("client_secret");
        }
        Self { grant, names }
    }

    /// The standard grants through the `oauth2` crate.
    fn standard(
        settings: &IdpSettings,
        grant: &'static str,
        own: &[&'static str],
        sends_scope: bool,
    ) -> Self {
        Self::new(settings, grant, own, sends_scope, true)
    }
}

/// The `accessTokenParams` to add to a request, vaulted values put back; a name the
/// request sets itself is `INVALID_OAUTH_CONNECTOR_DETAILS` naming it, never dropped
/// silently (SPEC §10).
pub fn token_params<'s>(
    settings: &'s IdpSettings,
    set: &SetByRequest,
) -> ApiResult<Vec<(&'s str, &'s str)>> {
    settings
        .token_params
        .iter()
        .map(|(name, value)| {
            if set.names.contains(&name.as_str()) {
                return Err(ApiError::InvalidConnectorDetails(format!(
                    "accessTokenParams must not set {:?}: the {} token request sets it itself",
                    name.chars().take(64).collect::<String>(),
                    set.grant
                )));
            }
            Ok((name.as_str(), value.as_str()))
        })
        .collect()
}

fn client(settings: &IdpSettings, idp: &IdpClient) -> ApiResult<TokenClient> {
    let url = settings.token_url()?;
    idp.policy()
        .check(&url)
        .map_err(ApiError::InvalidConnectorDetails)?;
    let mut client = BasicClient::new(ClientId::new(settings.require_client_id()?.to_owned()))
        .set_token_uri(TokenUrl::from_url(url))
        .set_auth_type(if settings.basic_auth {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        });
    if let Some(secret) = &settings.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    Ok(client)
}

/// Adds the `accessTokenParams` to a token request of any grant (refusing a name the
/// request sets itself, `$set`), sends it through the settings' guarded sender over
/// `idp` and reads the answer. A macro because the `oauth2` crate's request types of
/// the grants share these methods but no trait.
macro_rules! send {
    ($request:expr, $settings:expr, $idp:expr, $set:expr) => {{
        let mut request = $request;
        for (name, value) in token_params($settings, &$set)? {
            request = request.add_extra_param(name, value);
        }
        // The settings' guarded sender, owned by the capture (see `Capture`).
        let capture = Capture::new($settings.sender($idp), TokenRequestFormat::Form);
        issued(request.request_async(&capture).await)
    }};
}

fn scopes(settings: &IdpSettings) -> impl Iterator<Item = Scope> + '_ {
    settings.scopes.iter().cloned().map(Scope::new)
}

/// `CLIENT_CREDENTIALS` (RFC 6749 §4.4).
pub async fn client_credentials(idp: &IdpClient, settings: &IdpSettings) -> ApiResult<IssuedToken> {
    settings.require_secret()?;
    let client = client(settings, idp)?;
    let request = client
        .exchange_client_credentials()
        .add_scopes(scopes(settings));
    let set = SetByRequest::standard(settings, "client credentials", &[], true);
    send!(request, settings, idp, set)
}

/// `PASSWORD` (RFC 6749 §4.3).
pub async fn password(
    idp: &IdpClient,
    settings: &IdpSettings,
    username: &str,
    password: &SecretString,
) -> ApiResult<IssuedToken> {
    settings.require_secret()?;
    let client = client(settings, idp)?;
    let username = ResourceOwnerUsername::new(username.to_owned());
    let password = ResourceOwnerPassword::new(password.expose_secret().to_owned());
    let request = client
        .exchange_password(&username, &password)
        .add_scopes(scopes(settings));
    let set = SetByRequest::standard(settings, "password", &["username", "password"], true);
    send!(request, settings, idp, set)
}

/// A fresh PKCE pair (S256) and `state` for an authorization request.
pub struct AuthorizationStart {
    pub url: String,
    pub state: SecretString,
    pub verifier: SecretString,
}

/// Builds the authorization URL (RFC 6749 §4.1.1 with RFC 7636 S256), `authParams` added.
pub fn authorization_url(
    idp: &IdpClient,
    settings: &IdpSettings,
    redirect_uri: &str,
) -> ApiResult<AuthorizationStart> {
    token_params(settings, &exchange_sets(settings))?;
    let auth_url = settings.authorization_url()?;
    idp.policy()
        .check(&auth_url)
        .map_err(ApiError::InvalidConnectorDetails)?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| ApiError::invalid_input("redirectUri", "redirectUri is not a valid URL"))?;
    let client = client(settings, idp)?
        .set_auth_uri(AuthUrl::from_url(auth_url))
        .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes(settings))
        .set_pkce_challenge(challenge);
    for (name, value) in &settings.auth_params {
        request = request.add_extra_param(name.as_str(), value.as_str());
    }
    let (url, state) = request.url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: SecretString::from(state.into_secret()),
        verifier: SecretString::from(verifier.into_secret()),
    })
}

/// What the code exchange sets itself; checked when the authorization starts too, so a
/// conflict is reported before the user signs in at the IdP.
pub fn exchange_sets(settings: &IdpSettings) -> SetByRequest {
    let own = ["code", "redirect_uri", "code_verifier"];
    SetByRequest::standard(settings, "authorization code", &own, false)
}

/// Exchanges an authorization code with its PKCE verifier (RFC 6749 §4.1.3, RFC 7636).
pub async fn exchange_code(
    idp: &IdpClient,
    settings: &IdpSettings,
    code: &str,
    verifier: &SecretString,
    redirect_uri: &str,
) -> ApiResult<IssuedToken> {
    settings.require_secret()?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(ApiError::internal)?;
    let client = client(settings, idp)?.set_redirect_uri(redirect);
    let request = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()));
    send!(request, settings, idp, exchange_sets(settings))
}

/// Refreshes with a refresh token (RFC 6749 §6).
pub async fn refresh(
    idp: &IdpClient,
    settings: &IdpSettings,
    refresh_token: &SecretString,
) -> ApiResult<IssuedToken> {
    let client = client(settings, idp)?;
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let set = SetByRequest::standard(settings, "refresh", &["refresh_token"], false);
    send!(client.exchange_refresh_token(&token), settings, idp, set)
}

/// The outcome of a token request sent through [`idp::Capture`]: the IdP's answer read
/// and classified by [`idp::parse_token_answer`] (SPEC §10 failure classes, including
/// `Retry-After`), or the transport's failure (transient: SPEC §10 "network, timeout").
fn issued<T>(
    result: Result<T, RequestTokenError<Exchange<TransportError>, BasicErrorResponse>>,
) -> ApiResult<IssuedToken> {
    match idp::exchange::finish(result) {
        Exchange::Answer(response) => answer(&response),
        Exchange::Transport(transport) => Err(transport_failure(transport)),
        Exchange::NotSent(_) => Err(transport_failure(TransportError::Build)),
    }
}

/// The error of a request that got no answer: the network's trouble is transient
/// (SPEC §10), a request refused before it was sent (policy, secret binding) is not.
pub fn transport_failure(error: TransportError) -> ApiError {
    match error {
        TransportError::Refused(_) | TransportError::Build => ApiError::IdpTokenRequestFailed {
            idp_error: None,
            message: error.to_string(),
        },
        network => ApiError::Idp(IdpFailure::unreachable(network.to_string())),
    }
}

/// Reads an IdP's answer to a token request of any grant.
pub fn answer(response: &oauth2::HttpResponse) -> ApiResult<IssuedToken> {
    let answer = idp::parse_token_answer(response, None).map_err(ApiError::Idp)?;
    let token_type = answer.token_type;
    Ok(IssuedToken {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token,
        token_type: if token_type.eq_ignore_ascii_case("bearer") {
            "Bearer".to_owned()
        } else {
            token_type
        },
        expires_in: answer.expires_in,
        scope: answer.scope,
    })
}
