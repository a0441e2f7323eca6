//! `connector_details`: one row per saved OAuth connector (SPEC §3), keyed by tenant and
//! connector identity. Secrets appear here only sealed by the vault.

use sea_orm::entity::prelude::*;

/// A persisted connector record. `client_secret` always holds the literal
/// `dummyClientSecret`; the real secret, if any, is in `sealed_client_secret`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connector_details")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub space_guid: String,
    pub account_id: String,
    pub integration_pack_instance_id: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    /// SHA-256 of the six key parts (`record_key::key_hash`); unique, the upsert's
    /// conflict target (an index on the parts themselves can exceed PostgreSQL's limit).
    pub key_hash: String,
    pub client_id: String,
    pub client_secret: String,
    /// The real client secret, sealed by the vault (`keyid:base64`), or none.
    pub sealed_client_secret: Option<String>,
    /// The details JSON as the client sent it, with secret-named values masked.
    #[sea_orm(column_type = "Text")]
    pub oauth_connector_details: String,
    /// The masked values of the details (JSON pointer → raw JSON), sealed by the vault.
    #[sea_orm(column_type = "Text", nullable)]
    pub sealed_details_secrets: Option<String>,
    /// Hash of the settings a held token depends on (client id, token URLs, scope,
    /// discovery, provider); changing it deletes the held token (a database trigger).
    pub token_settings_fingerprint: String,
    /// Hash of the identity-provider origins the vaulted secrets above are tied to
    /// (SPEC §10); none for a row saved before bindings existed, until backfilled.
    pub secret_binding: Option<String>,
    pub is_token_generated: bool,
    /// The connection's state (SPEC §10), the GraphQL name of a `ConnectionStatus`.
    pub connection_status: String,
    /// When `connection_status` last changed; none until the first change.
    pub connection_status_changed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// A record holds at most one token; reading both is one statement (a LEFT JOIN).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::oauth_token::Entity")]
    OauthToken,
}

impl Related<super::oauth_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OauthToken.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
