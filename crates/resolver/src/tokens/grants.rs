//! The standard grants of SPEC §6 through the `oauth2` crate: client credentials,
//! resource-owner password, the authorization-code exchange with PKCE, and refresh.
//! `accessTokenParams` go into every token request; client authentication follows
//! `refreshAuthScheme`. Answers are read by the `idp` crate, which keeps the HTTP
//! status and `Retry-After` that SPEC §10 classifies failures by.

use idp::exchange::{self, Capture, Exchange};
use idp::{IdpFailure, parse_token_answer};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};

use super::http::{IdpClient, TransportError};
use super::settings::IdpSettings;
use crate::error::{ApiError, ApiResult};

/// A token as an IdP issued it, read by idp's tolerant parser (SPEC §11): `expires_in`
/// as a number or numeric string (else `tokenLifetimeSeconds`), `token_type` as sent,
/// and the answer's provider values.
pub type IssuedToken = idp::TokenAnswer;

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
        let secret_in_body = settings.client_secret.is_some() && !settings.basic_auth();
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

/// A client for the token endpoint `url` (the token or the refresh endpoint).
fn client(
    settings: &IdpSettings,
    idp: &IdpClient,
    url: oauth2::url::Url,
) -> ApiResult<TokenClient> {
    idp.policy()
        .check(&url)
        .map_err(ApiError::InvalidConnectorDetails)?;
    let mut client = BasicClient::new(ClientId::new(settings.require_client_id()?.to_owned()))
        .set_token_uri(TokenUrl::from_url(url))
        .set_auth_type(if settings.basic_auth() {
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
/// `idp` (as JSON when `tokenRequestFormat` says so) and reads the answer with idp's
/// parser: the `oauth2` crate builds the request, [`Capture`] hands the raw answer
/// back. A macro because the crate's request types of the grants share these methods
/// but no trait.
macro_rules! send {
    ($request:expr, $settings:expr, $idp:expr, $set:expr) => {{
        let mut request = $request;
        for (name, value) in token_params($settings, &$set)? {
            request = request.add_extra_param(name, value);
        }
        let capture = Capture::new($settings.sender($idp), $settings.request_format());
        answer(
            exchange::finish(request.request_async(&capture).await),
            $settings,
        )
    }};
}

fn scopes(settings: &IdpSettings) -> impl Iterator<Item = Scope> + '_ {
    settings.scopes.iter().cloned().map(Scope::new)
}

/// `CLIENT_CREDENTIALS` (RFC 6749 §4.4).
pub async fn client_credentials(idp: &IdpClient, settings: &IdpSettings) -> ApiResult<IssuedToken> {
    settings.require_secret()?;
    let client = client(settings, idp, settings.token_url()?)?;
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
    let client = client(settings, idp, settings.token_url()?)?;
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
    /// Empty when the details turned PKCE off (`pkce: false`).
    pub verifier: SecretString,
}

/// Builds the authorization URL (RFC 6749 §4.1.1 with RFC 7636 S256 unless `pkce` is
/// false), the effective `authParams` added (catalog defaults under the details').
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
    let client = client(settings, idp, settings.token_url()?)?
        .set_auth_uri(AuthUrl::from_url(auth_url))
        .set_redirect_uri(redirect);
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes(settings));
    let mut verifier = String::new();
    if settings.effective.pkce {
        let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        verifier = pkce_verifier.into_secret();
    }
    for (name, value) in &settings.effective.auth_params {
        request = request.add_extra_param(name.as_str(), value.as_str());
    }
    let (url, state) = request.url();
    Ok(AuthorizationStart {
        url: url.to_string(),
        state: SecretString::from(state.into_secret()),
        verifier: SecretString::from(verifier),
    })
}

/// What the code exchange sets itself; checked when the authorization starts too, so a
/// conflict is reported before the user signs in at the IdP.
pub fn exchange_sets(settings: &IdpSettings) -> SetByRequest {
    let own = ["code", "redirect_uri", "code_verifier"];
    SetByRequest::standard(settings, "authorization code", &own, false)
}

/// Exchanges an authorization code with its PKCE verifier (RFC 6749 §4.1.3, RFC 7636);
/// an empty verifier (PKCE was off when the flow started) sends none.
pub async fn exchange_code(
    idp: &IdpClient,
    settings: &IdpSettings,
    code: &str,
    verifier: &SecretString,
    redirect_uri: &str,
) -> ApiResult<IssuedToken> {
    settings.require_secret()?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(ApiError::internal)?;
    let client = client(settings, idp, settings.token_url()?)?.set_redirect_uri(redirect);
    let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
    if !verifier.expose_secret().is_empty() {
        request =
            request.set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()));
    }
    send!(request, settings, idp, exchange_sets(settings))
}

/// Refreshes with a refresh token (RFC 6749 §6), at `refreshTokenURL` when set.
pub async fn refresh(
    idp: &IdpClient,
    settings: &IdpSettings,
    refresh_token: &SecretString,
) -> ApiResult<IssuedToken> {
    let client = client(settings, idp, settings.refresh_url()?)?;
    let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let set = SetByRequest::standard(settings, "refresh", &["refresh_token"], false);
    send!(client.exchange_refresh_token(&token), settings, idp, set)
}

/// Reads what a token request sent through [`Capture`] came to.
fn answer(exchange: Exchange<TransportError>, settings: &IdpSettings) -> ApiResult<IssuedToken> {
    match exchange {
        Exchange::Answer(response) => answered(&response, settings),
        Exchange::Transport(err) => Err(unreachable(&err)),
        Exchange::NotSent(reason) => Err(ApiError::internal(std::io::Error::other(reason))),
    }
}

/// Reads a token endpoint's HTTP answer (any grant, RFC 7523 included): a token, or
/// `IDP_TOKEN_REQUEST_FAILED` — an HTTP 200 carrying `error` included (SPEC §11) —
/// whose failure keeps its SPEC §10 class and `Retry-After` for the refresh path.
pub fn answered(response: &oauth2::HttpResponse, settings: &IdpSettings) -> ApiResult<IssuedToken> {
    parse_token_answer(response, settings.token_lifetime()).map_err(ApiError::Idp)
}

/// The error for a transport failure (nothing was read from the IdP): the network's
/// trouble is transient (SPEC §10); a request refused before it was sent (policy,
/// secret binding) is not.
pub fn unreachable(err: &TransportError) -> ApiError {
    match err {
        TransportError::Refused(_) | TransportError::Build => ApiError::IdpTokenRequestFailed {
            idp_error: None,
            message: err.to_string(),
        },
        network => ApiError::Idp(IdpFailure::unreachable(network.to_string())),
    }
}
