//! The connection lifecycle (SPEC §10): `connection_status` and
//! `connection_status_changed_at` on every record, the terminal mark and the IdP's last
//! `error` code on held tokens, and the background refresher's due-scan index, which
//! leaves out tokens that only a new authorization can renew.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        add_column(
            manager,
            ConnectorDetails::Table,
            ColumnDef::new(ConnectorDetails::ConnectionStatus)
                .string_len(32)
                .not_null()
                .default("NOT_CONNECTED"),
        )
        .await?;
        add_column(
            manager,
            ConnectorDetails::Table,
            ColumnDef::new(ConnectorDetails::ConnectionStatusChangedAt)
                .timestamp_with_time_zone()
                .null(),
        )
        .await?;
        add_column(
            manager,
            OauthTokens::Table,
            ColumnDef::new(OauthTokens::ReauthorizationRequiredAt)
                .timestamp_with_time_zone()
                .null(),
        )
        .await?;
        add_column(
            manager,
            OauthTokens::Table,
            ColumnDef::new(OauthTokens::LastIdpError)
                .string_len(64)
                .null(),
        )
        .await?;
        // Records that already hold a valid token, or wait for a callback, say so.
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE connector_details SET connection_status = CASE \
               WHEN EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.connector_id = connector_details.id \
                 AND t.fingerprint = connector_details.token_settings_fingerprint AND t.failure_count > 0) \
                 THEN 'REFRESH_FAILING' \
               WHEN EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.connector_id = connector_details.id \
                 AND t.fingerprint = connector_details.token_settings_fingerprint) THEN 'ACTIVE' \
               WHEN EXISTS (SELECT 1 FROM oauth_states s WHERE s.connector_id = connector_details.id) \
                 THEN 'PENDING_AUTHORIZATION' \
               ELSE 'NOT_CONNECTED' END",
        )
        .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("oauth_tokens_expires_at")
                    .table(OauthTokens::Table)
                    .to_owned(),
            )
            .await?;
        // The refresher's due-scan (`expires_at <= horizon AND reauthorization_required_at
        // IS NULL`): tokens marked for re-authorization stay expired forever and would
        // otherwise be walked on every sweep.
        manager
            .create_index(
                Index::create()
                    .name("oauth_tokens_due")
                    .table(OauthTokens::Table)
                    .col(OauthTokens::ExpiresAt)
                    .and_where(Expr::col(OauthTokens::ReauthorizationRequiredAt).is_null())
                    .to_owned(),
            )
            .await?;
        // Connections by status (`/metrics`): counted from the index alone.
        manager
            .create_index(
                Index::create()
                    .name("connector_details_connection_status")
                    .table(ConnectorDetails::Table)
                    .col(ConnectorDetails::ConnectionStatus)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("connector_details_connection_status")
                    .table(ConnectorDetails::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("oauth_tokens_due")
                    .table(OauthTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oauth_tokens_expires_at")
                    .table(OauthTokens::Table)
                    .col(OauthTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            (
                ConnectorDetails::Table.into_iden(),
                ConnectorDetails::ConnectionStatus.into_iden(),
            ),
            (
                ConnectorDetails::Table.into_iden(),
                ConnectorDetails::ConnectionStatusChangedAt.into_iden(),
            ),
            (
                OauthTokens::Table.into_iden(),
                OauthTokens::ReauthorizationRequiredAt.into_iden(),
            ),
            (
                OauthTokens::Table.into_iden(),
                OauthTokens::LastIdpError.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

#[derive(DeriveIden)]
enum ConnectorDetails {
    Table,
    ConnectionStatus,
    ConnectionStatusChangedAt,
}

#[derive(DeriveIden)]
enum OauthTokens {
    Table,
    ExpiresAt,
    ReauthorizationRequiredAt,
    LastIdpError,
}
