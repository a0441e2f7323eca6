//! Moves the record key's uniqueness onto `key_hash`, a SHA-256 of the six key parts:
//! six 255-character non-ASCII parts (up to ~6 KiB) exceed PostgreSQL's B-tree row
//! limit (2,704 bytes), so the six-column unique index refused keys the SPEC allows.
//! A narrower index on the tenant serves the list and the per-tenant record count.
//!
//! The hash is computed here with a frozen copy of the resolver's rule
//! (`record_key::key_hash`): migrations never import application code, and what this
//! migration wrote must stay what it meant.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, TryGetable};
use sha2::{Digest as _, Sha256};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ConnectorDetails::Table)
                    .add_column(
                        ColumnDef::new(ConnectorDetails::KeyHash)
                            .string_len(64)
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        backfill(manager).await?;
        manager
            .drop_index(
                Index::drop()
                    .name("connector_details_record_key")
                    .table(ConnectorDetails::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connector_details_key_hash")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connector_details_tenant")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::SpaceGuid)
                    .col(ConnectorDetails::AccountId)
                    .col(ConnectorDetails::CreatedAt)
                    .col(ConnectorDetails::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["connector_details_tenant", "connector_details_key_hash"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(ConnectorDetails::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("connector_details_record_key")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::SpaceGuid)
                    .col(ConnectorDetails::AccountId)
                    .col(ConnectorDetails::IntegrationPackInstanceId)
                    .col(ConnectorDetails::ProcessId)
                    .col(ConnectorDetails::EnvId)
                    .col(ConnectorDetails::ConnectionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ConnectorDetails::Table)
                    .drop_column(ConnectorDetails::KeyHash)
                    .to_owned(),
            )
            .await
    }
}

/// Fills `key_hash` of every existing record.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, space_guid, account_id, integration_pack_instance_id, process_id, \
             env_id, connection_id FROM connector_details WHERE key_hash IS NULL",
        ))
        .await?;
    for row in rows {
        let id = uuid_of(&row)?;
        let mut parts = Vec::with_capacity(6);
        for column in [
            "space_guid",
            "account_id",
            "integration_pack_instance_id",
            "process_id",
            "env_id",
            "connection_id",
        ] {
            parts.push(String::try_get(&row, "", column).map_err(DbErr::from)?);
        }
        let update = Query::update()
            .table(ConnectorDetails::Table)
            .value(ConnectorDetails::KeyHash, key_hash(&parts))
            .and_where(Expr::col(ConnectorDetails::Id).eq(id))
            .to_owned();
        db.execute(&update).await?;
    }
    Ok(())
}

fn uuid_of(
    row: &sea_orm_migration::sea_orm::QueryResult,
) -> Result<sea_orm_migration::sea_orm::prelude::Uuid, DbErr> {
    row.try_get("", "id")
}

/// SHA-256 over each part's byte length (8 bytes, big-endian) and bytes, in hex.
fn key_hash(parts: &[String]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[derive(DeriveIden)]
enum ConnectorDetails {
    Table,
    Id,
    SpaceGuid,
    AccountId,
    IntegrationPackInstanceId,
    ProcessId,
    EnvId,
    ConnectionId,
    CreatedAt,
    KeyHash,
}
