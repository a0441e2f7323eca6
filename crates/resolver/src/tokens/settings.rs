//! What a token request needs from a saved record (SPEC §4, §6): the client id and
//! secret, the endpoints, scope, extra parameters and the client authentication scheme,
//! with vaulted values put back. Lives only for the duration of one IdP call.

use entity::connector_details::Model as Record;
use oauth2::url::Url;
use secrecy::SecretString;
use serde_json::Value;

use crate::details;
use crate::details::sealed::{open_client_secret, open_details};
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
}

impl IdpSettings {
    /// Reads the settings of `record`, opening what the vault holds for it.
    pub fn load(vault: &Vault, record: &Record) -> ApiResult<Self> {
        let secrets = open_details(vault, record)?;
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
        let client_secret = match open_client_secret(vault, record)? {
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
        })
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
