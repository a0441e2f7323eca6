//! GraphQL types of connector details. Names are the platform's, kept exactly (SPEC §3).

use async_graphql::{InputObject, SimpleObject};
use chrono::{DateTime, Utc};

use crate::connection_status::ConnectionStatus;
use crate::context::Tenant;
use crate::error::ApiResult;
use crate::record_key::{KeyFields, RecordKey};

/// The documented save input: all nine fields required.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthConnectorDetailsInput")]
pub struct SaveInput {
    pub integration_pack_instance_id: String,
    pub is_token_generated: bool,
    /// A JSON object string (SPEC §4).
    pub oauth_connector_details: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    /// The Space guid; must equal the `SPACE_GUID` header.
    pub catalog_guid: String,
    pub client_id: String,
    /// Stored as `dummyClientSecret`; a real value goes into the vault.
    pub client_secret: String,
}

/// Identifies one record of the caller's tenant.
#[derive(InputObject)]
#[graphql(name = "IPackInstanceOauthConnectorKeyInput")]
pub struct KeyInput {
    pub integration_pack_instance_id: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    /// The Space guid; must equal the `SPACE_GUID` header.
    pub catalog_guid: String,
}

impl KeyInput {
    /// Validates the key for the caller's tenant.
    pub fn parse(&self, tenant: &Tenant) -> ApiResult<RecordKey> {
        RecordKey::parse(
            tenant,
            KeyFields {
                integration_pack_instance_id: &self.integration_pack_instance_id,
                process_id: &self.process_id,
                env_id: &self.env_id,
                connection_id: &self.connection_id,
                catalog_guid: &self.catalog_guid,
            },
        )
    }
}

impl SaveInput {
    /// Validates the key part of the save input for the caller's tenant.
    pub fn key(&self, tenant: &Tenant) -> ApiResult<RecordKey> {
        RecordKey::parse(
            tenant,
            KeyFields {
                integration_pack_instance_id: &self.integration_pack_instance_id,
                process_id: &self.process_id,
                env_id: &self.env_id,
                connection_id: &self.connection_id,
                catalog_guid: &self.catalog_guid,
            },
        )
    }
}

/// A saved record as clients see it: never a secret. `tokenStatus` is resolved in
/// `tokens::query`.
#[derive(SimpleObject)]
#[graphql(name = "IPackInstanceOauthConnectorDetails", complex)]
pub struct ConnectorDetails {
    /// A UUID, stable across saves of the same key.
    pub id: String,
    pub integration_pack_instance_id: String,
    pub is_token_generated: bool,
    /// The details as saved, secret-named values shown as `dummyClientSecret`.
    pub oauth_connector_details: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    pub catalog_guid: String,
    pub client_id: String,
    /// True when the vault holds a real client secret for this record.
    pub is_client_secret_encrypted: bool,
    /// Where the connection stands (SPEC §10).
    pub connection_status: ConnectionStatus,
    /// When `connectionStatus` last changed; null until the first change.
    pub connection_status_changed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The row id, for resolving `tokenStatus`.
    #[graphql(skip)]
    pub record_id: uuid::Uuid,
    /// The owner's account, for the record key that opens `tokenStatus.providerValues`.
    #[graphql(skip)]
    pub account_id: String,
    /// The record's token settings fingerprint; a token issued under others is invalid.
    #[graphql(skip)]
    pub token_fingerprint: String,
    /// The token row, when a list loaded the rows of all its records in one query
    /// (`Some(None)`: no token); `None` leaves `tokenStatus` to read it.
    #[graphql(skip)]
    pub prefetched_token: Option<Option<entity::oauth_token::Model>>,
}

impl ConnectorDetails {
    /// The record's key (what its sealed values are bound to).
    pub fn key(&self) -> RecordKey {
        RecordKey {
            space_guid: self.catalog_guid.clone(),
            account_id: self.account_id.clone(),
            integration_pack_instance_id: self.integration_pack_instance_id.clone(),
            process_id: self.process_id.clone(),
            env_id: self.env_id.clone(),
            connection_id: self.connection_id.clone(),
        }
    }
}

impl From<entity::connector_details::Model> for ConnectorDetails {
    fn from(m: entity::connector_details::Model) -> Self {
        Self {
            id: m.id.to_string(),
            integration_pack_instance_id: m.integration_pack_instance_id,
            is_token_generated: m.is_token_generated,
            oauth_connector_details: m.oauth_connector_details,
            process_id: m.process_id,
            env_id: m.env_id,
            connection_id: m.connection_id,
            catalog_guid: m.space_guid,
            client_id: m.client_id,
            is_client_secret_encrypted: m.sealed_client_secret.is_some(),
            connection_status: ConnectionStatus::parse(&m.connection_status),
            connection_status_changed_at: m.connection_status_changed_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            record_id: m.id,
            account_id: m.account_id,
            token_fingerprint: m.token_settings_fingerprint,
            prefetched_token: None,
        }
    }
}
