//! GraphQL types of token generation (SPEC §3, §6): grant and connector types, the
//! generate input and answer, the runtime's token, and a record's token status.

use async_graphql::{Enum, InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::connector_details::types::{ConnectorDetails, KeyInput};
use crate::record_key::RecordKey;

/// How a token is obtained (SPEC §6).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    JwtBearer,
}

impl GrantType {
    /// The name stored in `oauth_tokens.grant_type` (the GraphQL name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "AUTHORIZATION_CODE",
            Self::ClientCredentials => "CLIENT_CREDENTIALS",
            Self::Password => "PASSWORD",
            Self::JwtBearer => "JWT_BEARER",
        }
    }

    /// The grant named by a stored `grant_type`.
    pub fn parse(stored: &str) -> Option<Self> {
        [
            Self::AuthorizationCode,
            Self::ClientCredentials,
            Self::Password,
            Self::JwtBearer,
        ]
        .into_iter()
        .find(|g| g.as_str() == stored)
    }
}

impl From<idp::GrantType> for GrantType {
    fn from(grant: idp::GrantType) -> Self {
        match grant {
            idp::GrantType::AuthorizationCode => Self::AuthorizationCode,
            idp::GrantType::ClientCredentials => Self::ClientCredentials,
            idp::GrantType::Password => Self::Password,
            idp::GrantType::JwtBearer => Self::JwtBearer,
        }
    }
}

/// The connector an iPack uses (SPEC §6 matrix).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorType {
    HttpClient,
    RestClient,
    AzureServiceBus,
    Box,
    QuickbooksOnline,
    SalesforcePlatformEvents,
    MailImap,
}

impl ConnectorType {
    /// The grants a Space may generate tokens with for this connector (SPEC §6).
    pub fn allowed_grants(self) -> &'static [GrantType] {
        use GrantType::*;
        match self {
            Self::HttpClient => &[AuthorizationCode, Password, ClientCredentials],
            Self::RestClient => &[AuthorizationCode, Password, ClientCredentials, JwtBearer],
            Self::AzureServiceBus => &[ClientCredentials],
            Self::Box => &[AuthorizationCode],
            Self::QuickbooksOnline | Self::SalesforcePlatformEvents | Self::MailImap => &[],
        }
    }
}

/// Where a generation stands.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationStatus {
    /// Open `authorizationUrl`; the callback completes the generation.
    PendingAuthorization,
    /// The token is held.
    Generated,
}

/// The RFC 7523 assertion to build for `JWT_BEARER`.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthJwtBearerInput")]
pub struct JwtInput {
    /// PEM RSA private key (RS256); required unless `unsigned`. Used once, never stored.
    pub signing_key: Option<String>,
    /// `iss`; default the client id.
    pub issuer: Option<String>,
    /// `sub`; default the client id.
    pub subject: Option<String>,
    /// `aud`; default the token URL.
    pub audience: Option<String>,
    /// Lifetime of the assertion; default 300.
    pub expires_in_seconds: Option<i32>,
    /// Extra claims, a JSON object string.
    pub claims: Option<String>,
    /// Send an unsecured assertion (`alg: none`).
    #[graphql(default = false)]
    pub unsigned: bool,
}

/// A record key plus how to obtain its token.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthGenerateTokenInput")]
pub struct GenerateInput {
    #[graphql(flatten)]
    pub key: KeyInput,
    pub grant_type: GrantType,
    /// When given, the grant type must be allowed for it (SPEC §6).
    pub connector_type: Option<ConnectorType>,
    /// `PASSWORD`: the resource owner (default: the details' `username`).
    pub username: Option<String>,
    /// `PASSWORD`: the resource owner's password (default: the details' `password`).
    /// Used once, never stored.
    pub password: Option<String>,
    /// `JWT_BEARER`: the assertion to build.
    pub jwt: Option<JwtInput>,
    /// `AUTHORIZATION_CODE`: one of this server's callback URLs under
    /// `PUBLIC_BASE_URL`; default `{PUBLIC_BASE_URL}/oauth2/callback`.
    pub redirect_uri: Option<String>,
}

/// The answer of `generateIPackInstanceOauthAccessToken`.
#[derive(SimpleObject)]
#[graphql(name = "IPackInstanceOauthGenerateTokenPayload")]
pub struct GeneratePayload {
    pub status: GenerationStatus,
    /// For `PENDING_AUTHORIZATION`: the IdP page to open.
    pub authorization_url: Option<String>,
    pub connector_details: ConnectorDetails,
}

/// The token an integration runtime reads (SPEC §3).
#[derive(SimpleObject)]
#[graphql(name = "IPackInstanceOauthAccessToken")]
pub struct AccessTokenPayload {
    pub access_token: String,
    /// As the IdP sent it (any case); `Bearer` when it sent none.
    pub token_type: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// The provider values kept with the token (SPEC §11), a JSON object string:
    /// e.g. Salesforce's `instance_url`, QuickBooks' `realmId`.
    pub provider_values: String,
}

/// What a record's held token looks like, never the token itself. `providerValues` is
/// resolved (opened from the vault) only when asked for.
#[derive(SimpleObject)]
#[graphql(name = "IPackInstanceOauthTokenStatus", complex)]
pub struct TokenStatus {
    pub grant_type: Option<GrantType>,
    pub token_type: String,
    pub scope: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub has_refresh_token: bool,
    pub last_refreshed_at: Option<DateTime<Utc>>,
    /// Why the last refresh failed, if it did; cleared by a successful one.
    pub last_error: Option<String>,
    /// The record's key and the sealed provider values, opened by the
    /// `providerValues` resolver.
    #[graphql(skip)]
    pub sealed_provider_values: (RecordKey, Option<String>),
}

impl TokenStatus {
    /// The status of `m`, the token row of the record at `key`.
    pub fn of(m: &entity::oauth_token::Model, key: RecordKey) -> Self {
        Self {
            sealed_provider_values: (key, m.sealed_provider_values.clone()),
            grant_type: GrantType::parse(&m.grant_type),
            token_type: m.token_type.clone(),
            scope: m.scope.clone(),
            expires_at: m.expires_at,
            has_refresh_token: m.sealed_refresh_token.is_some(),
            last_refreshed_at: m.last_refreshed_at,
            last_error: m.last_error.clone(),
        }
    }
}
