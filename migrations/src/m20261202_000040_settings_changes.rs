//! What a save that changes a record's settings does to what the record holds
//! (SPEC §10):
//!
//! - `connector_details.secret_binding`: the hash of the identity-provider origins the
//!   record's vaulted secrets are tied to (see `resolver::details::binding`). Null for
//!   rows saved before it existed, until the server's start-up backfill computes it
//!   (a null binding never lets a vaulted value be used).
//! - A trigger that deletes a record's held token and pending authorizations when its
//!   `token_settings_fingerprint` changes, inside the statement that changed it: saves
//!   batch several records into one upsert, and a trigger is the only way to drop each
//!   changed record's token without a statement per record. Changing the settings back
//!   later finds nothing to revive.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
CREATE OR REPLACE FUNCTION connector_details_drop_stale_tokens() RETURNS trigger AS $$
BEGIN
    DELETE FROM oauth_tokens WHERE connector_id = NEW.id;
    DELETE FROM oauth_states WHERE connector_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER connector_details_settings_changed
    AFTER UPDATE OF token_settings_fingerprint ON connector_details
    FOR EACH ROW
    WHEN (OLD.token_settings_fingerprint IS DISTINCT FROM NEW.token_settings_fingerprint)
    EXECUTE FUNCTION connector_details_drop_stale_tokens();
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS connector_details_settings_changed ON connector_details;
DROP FUNCTION IF EXISTS connector_details_drop_stale_tokens();
"#;

const SQLITE_UP: &str = r#"
CREATE TRIGGER IF NOT EXISTS connector_details_settings_changed
    AFTER UPDATE OF token_settings_fingerprint ON connector_details
    FOR EACH ROW
    WHEN OLD.token_settings_fingerprint IS NOT NEW.token_settings_fingerprint
BEGIN
    DELETE FROM oauth_tokens WHERE connector_id = NEW.id;
    DELETE FROM oauth_states WHERE connector_id = NEW.id;
END;
"#;

const SQLITE_DOWN: &str = "DROP TRIGGER IF EXISTS connector_details_settings_changed;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConnectorDetails::Table)
                    .add_column(
                        ColumnDef::new(ConnectorDetails::SecretBinding)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ConnectorDetails::Table)
                    .drop_column(ConnectorDetails::SecretBinding)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ConnectorDetails {
    Table,
    SecretBinding,
}
