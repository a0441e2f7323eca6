//! The SPEC §11 switches of `oauthConnectorDetails` and the effective IdP settings of a
//! record: the catalog entry's defaults under the details' own keys (details always
//! win), placeholders filled, and discovered endpoints where neither gave one.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::catalog::Catalog;
use crate::discovery::Metadata;
use crate::placeholders::{fill, fill_sample};
use crate::secret_names::is_secret_name;

/// The longest `tokenLifetimeSeconds` accepted (ten years).
pub const MAX_LIFETIME_SECONDS: u64 = crate::answer::MAX_EXPIRES_IN_SECONDS;

/// How the token request body is encoded (`tokenRequestFormat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRequestFormat {
    /// `application/x-www-form-urlencoded` (RFC 6749), the default.
    #[default]
    Form,
    /// `application/json`.
    Json,
}

/// Where the client authenticates to the token endpoint (`refreshAuthScheme`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum AuthScheme {
    /// `client_id` and `client_secret` in the request body, the default.
    #[default]
    #[serde(rename = "req_body_params_auth")]
    RequestBody,
    /// HTTP Basic (RFC 6749 §2.3.1).
    #[serde(rename = "basic_auth")]
    Basic,
}

/// Why details cannot be used; the message suits `INVALID_OAUTH_CONNECTOR_DETAILS`
/// and never quotes a detail's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DetailsError {
    /// A switch has the wrong JSON type or value.
    #[error("{key} must be {expected}")]
    WrongType {
        key: &'static str,
        expected: &'static str,
    },
    /// A URL switch is not an http(s) URL.
    #[error("{key} is not a valid http or https URL")]
    InvalidUrl { key: &'static str },
    /// `provider` names no catalog entry.
    #[error("provider {0:?} is not in the provider catalog")]
    UnknownProvider(String),
    /// A `{name}` placeholder has no value in the details.
    #[error("{url_key} needs a \"{name}\" value in the details for its {{{name}}} placeholder")]
    MissingPlaceholder { name: String, url_key: String },
    /// A secret-named `authParams` key would put a vaulted value into the
    /// authorization URL (SPEC §10).
    #[error("authParams must not hold the secret-named key {0:?}")]
    SecretAuthParam(String),
    /// A placeholder value could change the URL's host or path.
    #[error("the \"{name}\" value may only contain letters, digits, '.', '-' and '_'")]
    InvalidPlaceholder { name: String },
}

/// The effective IdP settings of one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveSettings {
    /// The catalog entry used, if any.
    pub provider: Option<String>,
    /// Where the user authorizes (authorization-code grant).
    pub authorization_url: Option<String>,
    /// Where tokens are requested.
    pub token_url: Option<String>,
    /// `refreshTokenURL`: where refreshes go instead of [`Self::token_url`].
    pub refresh_url: Option<String>,
    /// `testURL` (SPEC §12).
    pub test_url: Option<String>,
    /// `discoveryURL`.
    pub discovery_url: Option<String>,
    /// The scope, space-separated.
    pub scope: Option<String>,
    /// Client authentication at the token endpoint.
    pub auth_scheme: AuthScheme,
    /// Send PKCE (default true).
    pub pkce: bool,
    /// Token request body encoding.
    pub token_request_format: TokenRequestFormat,
    /// Lifetime of a token whose answer has no `expires_in`.
    pub token_lifetime: Option<Duration>,
    /// `authParams`: the catalog's, then the details' (same name replaced).
    pub auth_params: Vec<(String, String)>,
    endpoints_from_details: (bool, bool),
}

impl EffectiveSettings {
    /// Where refresh requests go: `refreshTokenURL`, else the token URL.
    pub fn refresh_endpoint(&self) -> Option<&str> {
        self.refresh_url.as_deref().or(self.token_url.as_deref())
    }

    /// True when a discovery document must be fetched: `discoveryURL` is set and the
    /// details themselves lack an endpoint.
    pub fn needs_discovery(&self) -> bool {
        self.discovery_url.is_some()
            && !(self.endpoints_from_details.0 && self.endpoints_from_details.1)
    }

    /// Uses the discovered endpoints where the details gave none (over catalog
    /// defaults: the record's own discovery document is more specific).
    pub fn apply_discovery(&mut self, metadata: &Metadata) {
        if !self.endpoints_from_details.0
            && let Some(url) = &metadata.authorization_endpoint
        {
            self.authorization_url = Some(url.clone());
        }
        if !self.endpoints_from_details.1 {
            self.token_url = Some(metadata.token_endpoint.clone());
        }
    }
}

/// Checks the types of the SPEC §11 switches (on save): `pkce` boolean,
/// `tokenRequestFormat` `form`/`json`, `tokenLifetimeSeconds` integer > 0, the URL
/// switches http(s) URLs (placeholders allowed), `provider` a catalog entry.
pub fn validate_switches(
    details: &Map<String, Value>,
    catalog: &Catalog,
) -> Result<(), DetailsError> {
    Switches::read(details)?;
    if let Some(name) = text(details, "provider") {
        catalog.get(name).ok_or_else(|| unknown_provider(name))?;
    }
    Ok(())
}

/// The effective settings of `details` (a details JSON object with vaulted values put
/// back or not; only non-secret keys are read). A secret-named `authParams` key is
/// refused here, at generation, as SPEC §10 asks.
pub fn effective(
    details: &Map<String, Value>,
    catalog: &Catalog,
) -> Result<EffectiveSettings, DetailsError> {
    let switches = Switches::read(details)?;
    let provider = match text(details, "provider") {
        Some(name) => Some(catalog.get(name).ok_or_else(|| unknown_provider(name))?),
        None => None,
    };
    let url = |key: &'static str, default: Option<&str>| -> Result<Option<String>, DetailsError> {
        text(details, key)
            .or(default)
            .map(|template| fill(template, details, key))
            .transpose()
    };
    let mut auth_params: Vec<(String, String)> = provider
        .map(|p| p.auth_params.clone().into_iter().collect())
        .unwrap_or_default();
    if let Some(Value::Object(own)) = details.get("authParams") {
        if let Some(name) = own.keys().find(|k| is_secret_name(k)) {
            return Err(DetailsError::SecretAuthParam(
                name.chars().take(64).collect(),
            ));
        }
        for (name, value) in own.iter().filter_map(|(k, v)| Some((k, v.as_str()?))) {
            match auth_params.iter_mut().find(|(k, _)| k == name) {
                Some(entry) => entry.1 = value.to_owned(),
                None => auth_params.push((name.clone(), value.to_owned())),
            }
        }
    }
    let auth_scheme = match text(details, "refreshAuthScheme") {
        Some("basic_auth") => AuthScheme::Basic,
        Some(_) => AuthScheme::RequestBody,
        None => provider.map(|p| p.refresh_auth_scheme).unwrap_or_default(),
    };
    Ok(EffectiveSettings {
        provider: provider.map(|p| p.name.clone()),
        authorization_url: url(
            "authorizationTokenURL",
            provider.map(|p| p.authorization_token_url.as_str()),
        )?,
        token_url: url(
            "accessTokenURL",
            provider.map(|p| p.access_token_url.as_str()),
        )?,
        refresh_url: url(
            "refreshTokenURL",
            provider.and_then(|p| p.refresh_token_url.as_deref()),
        )?,
        test_url: url("testURL", provider.and_then(|p| p.test_url.as_deref()))?,
        discovery_url: url("discoveryURL", None)?,
        scope: text(details, "scope")
            .or(provider.and_then(|p| p.scope.as_deref()))
            .map(str::to_owned),
        auth_scheme,
        pkce: switches
            .pkce
            .or(provider.and_then(|p| p.pkce))
            .unwrap_or(true),
        token_request_format: switches
            .format
            .or(provider.and_then(|p| p.token_request_format))
            .unwrap_or_default(),
        token_lifetime: switches
            .lifetime
            .or(provider.and_then(|p| p.token_lifetime_seconds))
            .map(Duration::from_secs),
        auth_params,
        endpoints_from_details: (
            text(details, "authorizationTokenURL").is_some(),
            text(details, "accessTokenURL").is_some(),
        ),
    })
}

/// The typed switches; URL switches are only checked here, filled in [`effective`].
struct Switches {
    pkce: Option<bool>,
    format: Option<TokenRequestFormat>,
    lifetime: Option<u64>,
}

impl Switches {
    fn read(details: &Map<String, Value>) -> Result<Self, DetailsError> {
        let pkce = match details.get("pkce") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(wrong("pkce", "a boolean")),
        };
        let format = match details.get("tokenRequestFormat") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s == "form" => Some(TokenRequestFormat::Form),
            Some(Value::String(s)) if s == "json" => Some(TokenRequestFormat::Json),
            Some(_) => return Err(wrong("tokenRequestFormat", "\"form\" or \"json\"")),
        };
        let lifetime = match details.get("tokenLifetimeSeconds") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_u64()
                    .filter(|s| (1..=MAX_LIFETIME_SECONDS).contains(s))
                    .ok_or_else(lifetime_error)?,
            ),
            Some(_) => return Err(lifetime_error()),
        };
        for key in ["refreshTokenURL", "discoveryURL", "testURL"] {
            match details.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.trim().is_empty() || is_http_url(&fill_sample(s)) => {}
                Some(Value::String(_)) => return Err(DetailsError::InvalidUrl { key }),
                Some(_) => return Err(wrong(key, "a string")),
            }
        }
        match details.get("provider") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(wrong("provider", "a string")),
        }
        Ok(Self {
            pkce,
            format,
            lifetime,
        })
    }
}

/// True for an absolute http or https URL with a host.
pub(crate) fn is_http_url(text: &str) -> bool {
    oauth2::url::Url::parse(text.trim())
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// A non-empty string value of the details (empty means "not set").
fn text<'d>(details: &'d Map<String, Value>, key: &str) -> Option<&'d str> {
    details
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn wrong(key: &'static str, expected: &'static str) -> DetailsError {
    DetailsError::WrongType { key, expected }
}

fn lifetime_error() -> DetailsError {
    wrong(
        "tokenLifetimeSeconds",
        "an integer from 1 to 315360000 (ten years)",
    )
}

fn unknown_provider(name: &str) -> DetailsError {
    DetailsError::UnknownProvider(name.chars().take(64).collect())
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
