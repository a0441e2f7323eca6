//! What a token request needs from a saved record (SPEC §4, §6, §11): the client id and
//! secret, with vaulted values put back — only while they are tied to the record's
//! identity provider (SPEC §10), and then only sent there ([`IdpSettings::sender`]) —
//! and the effective IdP settings: the details' own keys over the catalog entry named
//! by `provider`, placeholders filled, endpoints from the `discoveryURL` document where
//! neither gave one. Lives only for the duration of one IdP call.

use std::sync::Arc;
use std::time::Duration;

use entity::connector_details::Model as Record;
use idp::{AuthScheme, DetailsError, EffectiveSettings, Metadata, TokenRequestFormat};
use oauth2::http::{HeaderValue, Method, Request, header};
use oauth2::url::Url;
use secrecy::SecretString;
use serde_json::Value;

use super::TokenServices;
use super::http::{GuardedSender, IdpClient, TransportError};
use crate::details::binding::SecretBinding;
use crate::details::sealed::{open_client_secret, open_details};
use crate::details::{self, DetailSecrets};
use crate::error::{ApiError, ApiResult};
use crate::vault::Vault;

/// The IdP-facing settings of one record. Holds secrets: never logged (no `Debug`).
pub struct IdpSettings {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// Endpoints, scope, client authentication and the SPEC §11 switches.
    pub effective: EffectiveSettings,
    pub scopes: Vec<String>,
    /// `accessTokenParams`: added to every token request.
    pub token_params: Vec<(String, String)>,
    details: Value,
    /// Where the vaulted values above may be sent; none when none were opened.
    secrets_tied_to: Option<SecretBinding>,
}

impl IdpSettings {
    /// Reads the settings of `record`: opens what the vault holds for it if it is tied
    /// to the identity provider the details name now (else the record's vaulted values
    /// are not used at all: a grant that needs a secret answers
    /// `CLIENT_SECRET_REQUIRED`), applies the catalog, and fetches the discovery
    /// document when one is needed (through the outbound guards, cached up to an hour —
    /// SPEC §11).
    pub async fn load(tokens: &TokenServices, vault: &Vault, record: &Record) -> ApiResult<Self> {
        let mut settings = Self::open(tokens, vault, record)?;
        if settings.effective.needs_discovery()
            && let Some(url) = settings.effective.discovery_url.clone()
        {
            let metadata = discover(tokens, &url).await?;
            settings.effective.apply_discovery(&metadata);
            // The secrets are tied to the `discoveryURL` value, so to the endpoints its
            // document names.
            if let Some(binding) = settings.secrets_tied_to.as_mut() {
                binding.allow_discovered(&metadata);
            }
        }
        Ok(settings)
    }

    /// The settings without discovery.
    fn open(tokens: &TokenServices, vault: &Vault, record: &Record) -> ApiResult<Self> {
        let binding = SecretBinding::of_record(record, &tokens.catalog);
        let tied = binding.holds(record.secret_binding.as_deref());
        if !tied
            && (record.sealed_client_secret.is_some() || record.sealed_details_secrets.is_some())
        {
            tracing::warn!(
                connector = %record.id,
                "the record's vaulted secrets are not tied to its identity provider; not used"
            );
        }
        let secrets = match tied {
            true => open_details(vault, record)?,
            false => DetailSecrets::new(),
        };
        let details = details::unmask(&record.oauth_connector_details, &secrets)?;
        let Value::Object(map) = &details else {
            return Err(ApiError::internal(std::io::Error::other(
                "stored details are not a JSON object",
            )));
        };
        let effective = idp::effective(map, &tokens.catalog).map_err(invalid)?;
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let client_id = Some(record.client_id.trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| text("clientId"))
            .unwrap_or_default();
        let vaulted_secret = match tied {
            true => open_client_secret(vault, record)?,
            false => None,
        };
        let client_secret = match vaulted_secret {
            Some(secret) => Some(secret),
            // A secret saved inside the details (vaulted there) serves as well.
            None => text("client_secret")
                .or_else(|| text("clientSecret"))
                .map(SecretString::from),
        };
        let scopes = effective
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let token_params = string_map(map.get("accessTokenParams"));
        Ok(Self {
            client_id,
            client_secret,
            effective,
            scopes,
            token_params,
            details,
            secrets_tied_to: tied.then_some(binding),
        })
    }

    /// The transport for requests built from these settings: it refuses any request to
    /// an origin the record's vaulted values are not tied to (SPEC §10), whatever
    /// built the request.
    pub fn sender(&self, idp: &IdpClient) -> GuardedSender {
        GuardedSender::new(idp.clone(), self.secrets_tied_to.clone())
    }

    /// A top-level string of the details, e.g. `username`.
    pub fn detail(&self, key: &str) -> Option<String> {
        self.details
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The token endpoint, required by every grant.
    pub fn token_url(&self) -> ApiResult<Url> {
        required_url(self.effective.token_url.as_deref(), "accessTokenURL")
    }

    /// Where refreshes go: `refreshTokenURL`, else the token endpoint (SPEC §11).
    pub fn refresh_url(&self) -> ApiResult<Url> {
        required_url(self.effective.refresh_endpoint(), "accessTokenURL")
    }

    /// The authorization endpoint, required by the authorization-code grant.
    pub fn authorization_url(&self) -> ApiResult<Url> {
        required_url(
            self.effective.authorization_url.as_deref(),
            "authorizationTokenURL",
        )
    }

    /// True when the client authenticates with HTTP Basic (`refreshAuthScheme`).
    pub fn basic_auth(&self) -> bool {
        self.effective.auth_scheme == AuthScheme::Basic
    }

    /// How token request bodies are encoded (`tokenRequestFormat`).
    pub fn request_format(&self) -> TokenRequestFormat {
        self.effective.token_request_format
    }

    /// The lifetime of a token whose answer has no `expires_in` (`tokenLifetimeSeconds`).
    pub fn token_lifetime(&self) -> Option<Duration> {
        self.effective.token_lifetime
    }

    /// The client secret, or `CLIENT_SECRET_REQUIRED` (SPEC §6).
    pub fn require_secret(&self) -> ApiResult<&SecretString> {
        self.client_secret
            .as_ref()
            .ok_or(ApiError::ClientSecretRequired)
    }

    /// `INVALID_OAUTH_CONNECTOR_DETAILS` unless a client id is known.
    pub fn require_client_id(&self) -> ApiResult<&str> {
        if self.client_id.is_empty() {
            return Err(ApiError::InvalidConnectorDetails(
                "a clientId is required for token generation".into(),
            ));
        }
        Ok(&self.client_id)
    }
}

/// The metadata document at `url`, from the cache or fetched through the outbound
/// guards: a URL the policy refuses (plain http, a private address) is refused like
/// any IdP endpoint, before anything is sent.
async fn discover(tokens: &TokenServices, url: &str) -> ApiResult<Arc<Metadata>> {
    let parsed = Url::parse(url)
        .map_err(|_| ApiError::InvalidConnectorDetails("discoveryURL is not a valid URL".into()))?;
    tokens
        .idp
        .policy()
        .check(&parsed)
        .map_err(|reason| ApiError::InvalidConnectorDetails(format!("discoveryURL: {reason}")))?;
    let fetch = || async {
        let request = Request::builder()
            .method(Method::GET)
            .uri(parsed.as_str())
            .header(header::ACCEPT, HeaderValue::from_static("application/json"))
            .body(Vec::new())
            .map_err(|_| TransportError::Build)?;
        tokens.idp.send(request).await
    };
    tokens
        .discovery
        .get(url, fetch)
        .await
        .map_err(|err| ApiError::IdpTokenRequestFailed {
            idp_error: None,
            message: err.to_string(),
        })
}

/// `INVALID_OAUTH_CONNECTOR_DETAILS` with idp's reason (it never quotes a value).
pub fn invalid(err: DetailsError) -> ApiError {
    ApiError::InvalidConnectorDetails(err.to_string())
}

fn required_url(value: Option<&str>, name: &str) -> ApiResult<Url> {
    let value = value.ok_or_else(|| {
        ApiError::InvalidConnectorDetails(format!("{name} is required for this grant type"))
    })?;
    Url::parse(value)
        .map_err(|_| ApiError::InvalidConnectorDetails(format!("{name} is not a valid URL")))
}

/// A string-to-string map of the details (validated on save), in saved order.
fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(map)) = value else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect()
}
