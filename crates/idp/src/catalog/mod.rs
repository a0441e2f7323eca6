//! The provider catalog (SPEC §11): defaults for the identity providers Space
//! connectors use, shipped as data (`providers.toml`, compiled in), plus an
//! operator's own entries from `PROVIDERS_FILE` in the same format. An operator entry
//! with the name of a shipped one replaces it.

mod parse;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::settings::{AuthScheme, TokenRequestFormat};

pub use parse::CatalogError;

/// The shipped entries.
const SHIPPED: &str = include_str!("providers.toml");

/// A grant type a provider supports (the GraphQL `GrantType` names, SPEC §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    JwtBearer,
}

impl GrantType {
    /// The GraphQL enum name, e.g. `AUTHORIZATION_CODE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "AUTHORIZATION_CODE",
            Self::ClientCredentials => "CLIENT_CREDENTIALS",
            Self::Password => "PASSWORD",
            Self::JwtBearer => "JWT_BEARER",
        }
    }
}

/// One catalog entry. URLs are templates: `{name}` placeholders are filled from the
/// details (see [`crate::placeholders`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// What details name in `provider`.
    pub name: String,
    /// For Space UIs.
    pub display_name: String,
    /// The grants the provider supports.
    pub grant_types: Vec<GrantType>,
    /// Authorization endpoint template.
    pub authorization_token_url: String,
    /// Token endpoint template.
    pub access_token_url: String,
    /// Refresh endpoint template, when not the token endpoint.
    pub refresh_token_url: Option<String>,
    /// Default scope.
    pub scope: Option<String>,
    /// Client authentication at the token endpoint.
    pub refresh_auth_scheme: AuthScheme,
    /// Whether to send PKCE; unset means the default (true).
    pub pkce: Option<bool>,
    /// Token request encoding; unset means form.
    pub token_request_format: Option<TokenRequestFormat>,
    /// Lifetime of a token whose answer has no `expires_in`.
    pub token_lifetime_seconds: Option<u64>,
    /// Extra authorization-URL parameters.
    pub auth_params: BTreeMap<String, String>,
    /// Test Connection URL template (SPEC §12).
    pub test_url: Option<String>,
    /// The placeholder names of all URL templates, in order of first appearance.
    pub placeholders: Vec<String>,
}

/// The providers known to this server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    providers: Vec<Provider>,
}

impl Catalog {
    /// The shipped entries. Fails only if `providers.toml` is broken (a unit test
    /// guards that).
    pub fn shipped() -> Result<Self, CatalogError> {
        Self::parse(SHIPPED, "providers.toml (shipped)")
    }

    /// The shipped entries plus, when given, the operator's `PROVIDERS_FILE`; an
    /// unreadable or bad file is an error naming the file and line (stop the start).
    pub fn load(providers_file: Option<&Path>) -> Result<Self, CatalogError> {
        let shipped = Self::shipped()?;
        let Some(path) = providers_file else {
            return Ok(shipped);
        };
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|err| CatalogError::unreadable(&origin, &err))?;
        Ok(shipped.with_operator_entries(Self::parse(&text, &origin)?))
    }

    /// Parses a catalog file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        parse::parse(text, origin).map(|providers| Self { providers })
    }

    /// This catalog with `operator`'s entries: same name replaces (in place), new
    /// names are appended.
    pub fn with_operator_entries(mut self, operator: Catalog) -> Self {
        for entry in operator.providers {
            match self.providers.iter_mut().find(|p| p.name == entry.name) {
                Some(slot) => *slot = entry,
                None => self.providers.push(entry),
            }
        }
        self
    }

    /// The entry named `name` (exact, case-sensitive).
    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// All entries, shipped ones first (for `query oauthProviders`).
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
