//! `tenant_record_counts`: how many records each tenant holds, in all and by connection
//! status, kept by database triggers on `connector_details` in the transactions that
//! insert, delete or change the status of records: the quota (SPEC §13) reads one row
//! instead of counting the tenant's records, the status gauge one row per tenant.

use sea_orm::entity::prelude::*;

/// One tenant's record count.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_record_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub space_guid: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    pub records: i64,
    pub not_connected: i64,
    pub pending_authorization: i64,
    pub active: i64,
    pub refresh_failing: i64,
    pub needs_reauthorization: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
