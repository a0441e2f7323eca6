//! `oauth_states`: pending authorization-code flows (SPEC §6), one per `state` sent to
//! an IdP, consumed once by the callback.

use sea_orm::entity::prelude::*;

/// A pending authorization; found by the hash of its `state`, never the state itself.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    /// Hex SHA-256 of the `state` parameter.
    #[sea_orm(primary_key, auto_increment = false)]
    pub state_hash: String,
    pub connector_id: Uuid,
    /// The PKCE verifier, sealed for `Slot::PkceVerifier` of the record.
    #[sea_orm(column_type = "Text")]
    pub sealed_pkce_verifier: String,
    /// The `redirect_uri` sent in the authorization request (repeated in the exchange).
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    /// The record's token settings when the flow started.
    pub fingerprint: String,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
