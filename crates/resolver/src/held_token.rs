//! A record's held token as other features see it (SPEC §3, §6): reading the token rows
//! and forgetting a record's token and pending authorizations. Whether a row is still
//! valid is [`crate::details::fingerprint`]'s to decide.

use std::collections::HashMap;

use chrono::Utc;
use entity::{connector_details, oauth_state, oauth_token};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::lifecycle::{self, ConnectionStatus};

/// The token row of `connector_id`, whatever its fingerprint.
pub async fn row(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
) -> ApiResult<Option<oauth_token::Model>> {
    Ok(oauth_token::Entity::find_by_id(connector_id)
        .one(db)
        .await?)
}

/// The token rows of `connector_ids`, by connector, in one query (a list's `tokenStatus`).
pub async fn rows(
    db: &impl ConnectionTrait,
    connector_ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, oauth_token::Model>> {
    let rows = oauth_token::Entity::find()
        .filter(oauth_token::Column::ConnectorId.is_in(connector_ids))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.connector_id, row))
        .collect())
}

/// Drops the token and pending authorizations of `connector_id`, clears
/// `isTokenGenerated` (revoke, reset — SPEC §3), and leaves the connection
/// `NOT_CONNECTED` (SPEC §10).
pub async fn drop_tokens(db: &impl ConnectionTrait, connector_id: Uuid) -> ApiResult<()> {
    oauth_token::Entity::delete_many()
        .filter(oauth_token::Column::ConnectorId.eq(connector_id))
        .exec(db)
        .await?;
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ConnectorId.eq(connector_id))
        .exec(db)
        .await?;
    connector_details::Entity::update_many()
        .col_expr(
            connector_details::Column::IsTokenGenerated,
            Expr::value(false),
        )
        .col_expr(
            connector_details::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(connector_details::Column::Id.eq(connector_id))
        .exec(db)
        .await?;
    lifecycle::enter(db, connector_id, ConnectionStatus::NotConnected).await?;
    Ok(())
}
