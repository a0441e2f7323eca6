//! Creates `oauth_tokens` (the token held for a connector, with its refresh lease) and
//! `oauth_states` (pending authorization-code flows) — SPEC §5, §6. Both belong to a
//! `connector_details` row and go with it (ON DELETE CASCADE).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthTokens::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OauthTokens::ConnectorId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::GrantType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::SealedAccessToken)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::SealedRefreshToken)
                            .text()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::TokenType)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OauthTokens::Scope).text().null())
                    .col(
                        ColumnDef::new(OauthTokens::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::Fingerprint)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::IssuedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::LastRefreshedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(OauthTokens::LastError).text().null())
                    .col(
                        ColumnDef::new(OauthTokens::FailureCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::LeaseOwner)
                            .string_len(100)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OauthTokens::LeaseExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("oauth_tokens_connector")
                            .from(OauthTokens::Table, OauthTokens::ConnectorId)
                            .to(ConnectorDetails::Table, ConnectorDetails::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The background refresher's scan: tokens expiring soonest first.
        manager
            .create_index(
                Index::create()
                    .name("oauth_tokens_expires_at")
                    .table(OauthTokens::Table)
                    .col(OauthTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OauthStates::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(OauthStates::StateHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OauthStates::ConnectorId).uuid().not_null())
                    .col(
                        ColumnDef::new(OauthStates::SealedPkceVerifier)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(OauthStates::RedirectUri).text().not_null())
                    .col(
                        ColumnDef::new(OauthStates::Fingerprint)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OauthStates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("oauth_states_connector")
                            .from(OauthStates::Table, OauthStates::ConnectorId)
                            .to(ConnectorDetails::Table, ConnectorDetails::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("oauth_states_connector")
                    .table(OauthStates::Table)
                    .col(OauthStates::ConnectorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthStates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OauthTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ConnectorDetails {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OauthTokens {
    Table,
    ConnectorId,
    GrantType,
    SealedAccessToken,
    SealedRefreshToken,
    TokenType,
    Scope,
    ExpiresAt,
    Fingerprint,
    IssuedAt,
    LastRefreshedAt,
    LastError,
    FailureCount,
    NextAttemptAt,
    LeaseOwner,
    LeaseExpiresAt,
}

#[derive(DeriveIden)]
enum OauthStates {
    Table,
    StateHash,
    ConnectorId,
    SealedPkceVerifier,
    RedirectUri,
    Fingerprint,
    ExpiresAt,
    CreatedAt,
}
