//! Queries over connector details.

use async_graphql::{Context, Object, Result};

use super::service;
use super::types::{ConnectorDetails, KeyInput};
use crate::Services;
use crate::context::caller;
use crate::error::ApiError;
use crate::record_key::check_key_string;

/// The most records one page of the list holds.
const MAX_PAGE: u64 = 500;

/// Read access to connector details.
#[derive(Default)]
pub struct ConnectorDetailsQuery;

#[Object]
impl ConnectorDetailsQuery {
    /// The record at `input`'s key in the caller's tenant, or null (documented operation).
    #[graphql(name = "IPackInstanceOAuthConnectorDetails")]
    async fn find(&self, ctx: &Context<'_>, input: KeyInput) -> Result<Option<ConnectorDetails>> {
        let key = input.parse(caller(ctx)?.tenant())?;
        // One statement: when `tokenStatus` is asked for, the token row comes with the
        // record (a join), else the record alone.
        let with_token = ctx.look_ahead().field("tokenStatus").exists();
        let found = Services::of(ctx)?.reads.find(&key, with_token).await?;
        Ok(found.map(|(record, token)| {
            let mut record = ConnectorDetails::from(record);
            if with_token {
                record.prefetched_token = Some(token);
            }
            record
        }))
    }

    /// The records of one integration pack instance in the caller's tenant, oldest
    /// first: at most `first` (1–500) after the record whose `id` is `after` (extension,
    /// SPEC §13).
    #[graphql(name = "iPackInstanceOauthConnectorDetailsList")]
    async fn list(
        &self,
        ctx: &Context<'_>,
        integration_pack_instance_id: String,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<ConnectorDetails>> {
        let tenant = caller(ctx)?.tenant();
        check_key_string("integrationPackInstanceId", &integration_pack_instance_id)
            .map_err(|e| ApiError::IPackInstanceIdInvalid(e.to_string()))?;
        // An explicit null means the default page.
        let first = u64::try_from(first.unwrap_or(100))
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_input("first", format!("first must be 1 to {MAX_PAGE}"))
            })?;
        let after = after
            .map(|id| {
                uuid::Uuid::parse_str(&id).map_err(|_| {
                    ApiError::invalid_input("after", "after must be the id of a record")
                })
            })
            .transpose()?;
        let db = &Services::of(ctx)?.db;
        let records =
            service::list(db, tenant, &integration_pack_instance_id, first, after).await?;
        let mut records: Vec<ConnectorDetails> = records.into_iter().map(Into::into).collect();
        // One query for every record's token rather than one per record.
        if ctx.look_ahead().field("tokenStatus").exists() {
            let mut tokens =
                crate::held_token::rows(db, records.iter().map(|r| r.record_id)).await?;
            for record in &mut records {
                record.prefetched_token = Some(tokens.remove(&record.record_id));
            }
        }
        Ok(records)
    }
}
