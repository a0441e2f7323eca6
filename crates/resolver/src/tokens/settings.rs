//! What a token request needs from a saved record (SPEC §4, §6): the client id and
//! secret, the endpoints, scope, extra parameters and the client authentication scheme,
//! with vaulted values put back — only while they are tied to the record's identity
//! provider (SPEC §10), and then only sent there ([`IdpSettings::sender`]). Lives only
//! for the duration of one IdP call.

use entity::connector_details::Model as Record;
use oauth2::url::Url;
use secrecy::SecretString;
use serde_json::Value;

use super::http::{GuardedSender, IdpClient};
use crate::details::binding::SecretBinding;
use crate::details::sealed::{open_client_secret, open_details};
use crate::details::{self, DetailSecrets, is_secret_name};
use crate::error::{ApiError, ApiResult};
use crate::vault::Vault;

/// The IdP-facing settings of one record. Holds secrets: never logged (no `Debug`).
pub struct IdpSettings {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub token_url: Option<String>,
    pub authorization_url: Option<String>,
    pub scopes: Vec<String>,
    /// `authParams`: added to the authorization URL.
    pub auth_params: Vec<(String, String)>,
    /// `accessTokenParams`: added to every token request.
    pub token_params: Vec<(String, String)>,
    /// `refreshAuthScheme: basic_auth`; otherwise credentials go in the request body.
    pub basic_auth: bool,
    details: Value,
    /// Where the vaulted values above may be sent; none when none were opened.
    secrets_tied_to: Option<SecretBinding>,
}

impl IdpSettings {
    /// Reads the settings of `record`, opening what the vault holds for it if it is
    /// tied to the identity provider the details name now (else the record's vaulted
    /// values are not used at all: a grant that needs a secret answers
    /// `CLIENT_SECRET_REQUIRED`).
    pub fn load(vault: &Vault, record: &Record) -> ApiResult<Self> {
        let binding = SecretBinding::of_record(record);
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
        let text = |key: &str| {
            details
                .get(key)
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
        let scopes = text("scope")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Ok(Self {
            client_id,
            client_secret,
            token_url: text("accessTokenURL"),
            authorization_url: text("authorizationTokenURL"),
            scopes,
            auth_params: string_map(details.get("authParams")),
            token_params: string_map(details.get("accessTokenParams")),
            basic_auth: text("refreshAuthScheme").as_deref() == Some("basic_auth"),
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

    /// `INVALID_OAUTH_CONNECTOR_DETAILS` when `authParams` holds a secret-named key: its
    /// vaulted value would go into an authorization URL (SPEC §10).
    pub fn refuse_secret_auth_params(&self) -> ApiResult<()> {
        match self
            .auth_params
            .iter()
            .find(|(name, _)| is_secret_name(name))
        {
            Some((name, _)) => Err(ApiError::InvalidConnectorDetails(format!(
                "authParams must not hold the secret-named key {:?}: it would be sent in the authorization URL",
                name.chars().take(64).collect::<String>()
            ))),
            None => Ok(()),
        }
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
        required_url(self.token_url.as_deref(), "accessTokenURL")
    }

    /// The authorization endpoint, required by the authorization-code grant.
    pub fn authorization_url(&self) -> ApiResult<Url> {
        required_url(self.authorization_url.as_deref(), "authorizationTokenURL")
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
