//! Costs that do not grow with the data (issue 20).
//!
//! - Every sealed column gets a generated column `<column>_key_id` holding the key id its
//!   ciphertext names (`<key_id>:<base64>`, SPEC §5), with an index on the rows that hold
//!   one. The start-up check reads the distinct key ids from these indexes (a loose index
//!   scan: one probe per key id) instead of scanning every row, and `rotate-keys` finds
//!   stale rows through them. On PostgreSQL the column is `STORED` (an expression index on
//!   the ciphertext would change with every new ciphertext and so forbid HOT updates; the
//!   stored key id does not change), collated `"C"` so key ids compare byte by byte, as
//!   on SQLite, whose generated column is `VIRTUAL` (the only kind `ALTER TABLE` adds).
//!   Generated columns are not in the `entity` models, so sea-orm never writes them.
//!   A value without a key id (no `:` within the first 33 characters) gets `''`, which
//!   no key is called, so the start-up check still refuses it; NULL stays NULL.
//! - `oauth_states (expires_at)`: the refresher's purge of expired pending authorizations.
//! - `connector_details (id) WHERE secret_binding IS NULL`: the start-up backfill of
//!   secret bindings finds the (normally zero) unbound records without a scan.
//! - `connector_details_tenant` (space, account, created_at, id) becomes
//!   `connector_details_list` (space, account, integration pack instance, created_at,
//!   id): the list filters by integration pack instance and pages by (created_at, id), so
//!   a page is one index range; the per-tenant quota count still uses its prefix.
//!
//! On PostgreSQL adding a stored column rewrites each table once (under an exclusive
//! lock): README "Upgrading" says so.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, sealed column) of every sealed value.
const SEALED: [(&str, &str); 6] = [
    ("connector_details", "sealed_client_secret"),
    ("connector_details", "sealed_details_secrets"),
    ("oauth_tokens", "sealed_access_token"),
    ("oauth_tokens", "sealed_refresh_token"),
    ("oauth_tokens", "sealed_provider_values"),
    ("oauth_states", "sealed_pkce_verifier"),
];

/// The key id of `column` in SQL; `find` is the backend's substring-position function.
fn key_id_expr(column: &str, find: &str) -> String {
    format!(
        "CASE WHEN {column} IS NULL THEN NULL \
         WHEN {find}({column}, ':') BETWEEN 2 AND 33 THEN substr({column}, 1, {find}({column}, ':') - 1) \
         ELSE '' END"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                // One ALTER per table: one rewrite per table.
                for table in ["connector_details", "oauth_tokens", "oauth_states"] {
                    let columns: Vec<String> = SEALED
                        .iter()
                        .filter(|(t, _)| *t == table)
                        .map(|(_, c)| {
                            format!(
                                "ADD COLUMN {c}_key_id text COLLATE \"C\" \
                                 GENERATED ALWAYS AS ({}) STORED",
                                key_id_expr(c, "strpos")
                            )
                        })
                        .collect();
                    db.execute_unprepared(&format!("ALTER TABLE {table} {}", columns.join(", ")))
                        .await?;
                }
            }
            _ => {
                for (table, column) in SEALED {
                    db.execute_unprepared(&format!(
                        "ALTER TABLE {table} ADD COLUMN {column}_key_id TEXT \
                         GENERATED ALWAYS AS ({}) VIRTUAL",
                        key_id_expr(column, "instr")
                    ))
                    .await?;
                }
            }
        }
        for (table, column) in SEALED {
            db.execute_unprepared(&format!(
                "CREATE INDEX {table}_{column}_key_id ON {table} ({column}_key_id) \
                 WHERE {column}_key_id IS NOT NULL"
            ))
            .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("oauth_states_expires_at")
                    .table(OauthStates::Table)
                    .col(OauthStates::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connector_details_unbound")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::Id)
                    .and_where(Expr::col(ConnectorDetails::SecretBinding).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("connector_details_list")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::SpaceGuid)
                    .col(ConnectorDetails::AccountId)
                    .col(ConnectorDetails::IntegrationPackInstanceId)
                    .col(ConnectorDetails::CreatedAt)
                    .col(ConnectorDetails::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("connector_details_tenant")
                    .table(ConnectorDetails::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
            .await?;
        for (name, table) in [
            (
                "connector_details_list",
                ConnectorDetails::Table.into_iden(),
            ),
            (
                "connector_details_unbound",
                ConnectorDetails::Table.into_iden(),
            ),
            ("oauth_states_expires_at", OauthStates::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        for (table, column) in SEALED {
            db.execute_unprepared(&format!("DROP INDEX {table}_{column}_key_id"))
                .await?;
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}_key_id"))
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ConnectorDetails {
    Table,
    Id,
    SpaceGuid,
    AccountId,
    IntegrationPackInstanceId,
    CreatedAt,
    SecretBinding,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    ExpiresAt,
}
