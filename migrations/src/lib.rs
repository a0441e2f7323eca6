//! Database migrations of spaces-oauth, applied at start-up and by `spaces-oauth migrate`.
//! One file per change; files never import the `entity` crate, so old migrations keep
//! meaning what they meant when they ran.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_connector_details;
mod m20261123_000002_create_oauth_tokens;
mod m20261202_000010_create_connection_events;
mod m20261202_000020_connector_details_key_hash;
mod m20261202_000030_connection_lifecycle;
mod m20261202_000040_settings_changes;
mod m20261202_000050_token_provider_values;
mod m20261202_000060_key_ids_and_sweep_indexes;
mod m20261202_000070_tenant_record_counts;

/// The ordered list of every migration.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_connector_details::Migration),
            Box::new(m20261123_000002_create_oauth_tokens::Migration),
            Box::new(m20261202_000010_create_connection_events::Migration),
            Box::new(m20261202_000020_connector_details_key_hash::Migration),
            Box::new(m20261202_000030_connection_lifecycle::Migration),
            Box::new(m20261202_000040_settings_changes::Migration),
            Box::new(m20261202_000050_token_provider_values::Migration),
            Box::new(m20261202_000060_key_ids_and_sweep_indexes::Migration),
            Box::new(m20261202_000070_tenant_record_counts::Migration),
        ]
    }
}
