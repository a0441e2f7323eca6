//! Creates `connector_details` and its unique tenant-and-connector key (SPEC §3).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectorDetails::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ConnectorDetails::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::SpaceGuid)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::AccountId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::IntegrationPackInstanceId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::ProcessId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::EnvId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::ConnectionId)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ConnectorDetails::ClientId).text().not_null())
                    .col(
                        ColumnDef::new(ConnectorDetails::ClientSecret)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::SealedClientSecret)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::OauthConnectorDetails)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::SealedDetailsSecrets)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::TokenSettingsFingerprint)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::IsTokenGenerated)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConnectorDetails::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The record key of SPEC §3; the upsert's ON CONFLICT target. Its first two
        // columns also serve the per-instance list query.
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConnectorDetails::Table).to_owned())
            .await
    }
}

// The iden of the `oauth_connector_details` column necessarily repeats the table's name.
#[derive(DeriveIden)]
#[expect(clippy::enum_variant_names)]
enum ConnectorDetails {
    Table,
    Id,
    SpaceGuid,
    AccountId,
    IntegrationPackInstanceId,
    ProcessId,
    EnvId,
    ConnectionId,
    ClientId,
    ClientSecret,
    SealedClientSecret,
    OauthConnectorDetails,
    SealedDetailsSecrets,
    TokenSettingsFingerprint,
    IsTokenGenerated,
    CreatedAt,
    UpdatedAt,
}
