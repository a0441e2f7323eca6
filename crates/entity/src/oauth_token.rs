//! `oauth_tokens`: the token held for one connector (SPEC §6), sealed by the vault, with
//! the refresh schedule and the lease that lets exactly one replica refresh it.

use sea_orm::entity::prelude::*;

/// The token of one connector; the row goes with its `connector_details` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connector_id: Uuid,
    /// The grant the token was obtained with (`CLIENT_CREDENTIALS`, …).
    pub grant_type: String,
    /// The access token, sealed for `Slot::AccessToken` of the record.
    #[sea_orm(column_type = "Text")]
    pub sealed_access_token: String,
    /// The refresh token, sealed for `Slot::RefreshToken`, when the IdP issued one.
    #[sea_orm(column_type = "Text", nullable)]
    pub sealed_refresh_token: Option<String>,
    /// The provider values kept with the token (SPEC §11: e.g. Salesforce's
    /// `instance_url`, QuickBooks' `realmId`), a JSON object sealed for
    /// `Slot::ProviderValues`; null when there are none.
    #[sea_orm(column_type = "Text", nullable)]
    pub sealed_provider_values: Option<String>,
    pub token_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub scope: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    /// The record's `token_settings_fingerprint` when the token was issued; a token
    /// whose fingerprint differs from the record's is no longer valid.
    pub fingerprint: String,
    pub issued_at: DateTimeUtc,
    pub last_refreshed_at: Option<DateTimeUtc>,
    /// Why the last refresh failed; cleared by a successful one.
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    /// Refresh failures since the last success (drives the backoff).
    pub failure_count: i32,
    /// No background refresh before this instant (backoff after a failure).
    pub next_attempt_at: Option<DateTimeUtc>,
    /// Who holds the refresh lease, if anyone.
    pub lease_owner: Option<String>,
    /// From the database's clock, so replicas with skewed clocks agree (SPEC §10).
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Set when only a new authorization can renew the token (SPEC §10
    /// `NEEDS_REAUTHORIZATION`): the IdP refused the grant, or the token expired with
    /// nothing to renew it. The background refresher leaves such a token alone.
    pub reauthorization_required_at: Option<DateTimeUtc>,
    /// The IdP's `error` code of the last failed refresh, when it sent one.
    pub last_idp_error: Option<String>,
}

/// The record the token is held for.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::connector_details::Entity",
        from = "Column::ConnectorId",
        to = "super::connector_details::Column::Id"
    )]
    ConnectorDetails,
}

impl Related<super::connector_details::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ConnectorDetails.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
