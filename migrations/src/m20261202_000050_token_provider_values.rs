//! Adds `oauth_tokens.sealed_provider_values` (SPEC §11): the values an identity provider
//! hands over besides the token (Salesforce's `instance_url`, QuickBooks' `realmId`),
//! kept encrypted with the token. Nullable, so existing tokens simply have none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OauthTokens::Table)
                    .add_column(
                        ColumnDef::new(OauthTokens::SealedProviderValues)
                            .text()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OauthTokens::Table)
                    .drop_column(OauthTokens::SealedProviderValues)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OauthTokens {
    Table,
    SealedProviderValues,
}
