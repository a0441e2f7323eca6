//! `tenant_record_counts`: how many records each tenant holds, kept by database triggers
//! on `connector_details` in the transactions that insert and delete records, so the
//! quota (SPEC §13) reads one row instead of counting the tenant's records.

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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
