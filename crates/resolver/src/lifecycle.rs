//! The connection lifecycle's one writer (SPEC §10): every change of a record's
//! `connectionStatus` goes through [`enter`] (or, in a save's upsert, through
//! [`status_on_conflict`]), which stamps `connectionStatusChangedAt` only when the status
//! really changes. Which transition happens when is decided by the features: tokens
//! (generate, callback, refresh, revoke, read), client secrets (reset), saves (a change
//! of the token settings). A leaf module over the entities.

use std::collections::HashMap;

use chrono::Utc;
use entity::connector_details::{Column, Entity};
use entity::oauth_token::Model as Token;
use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

pub use crate::connection_status::ConnectionStatus;
use crate::error::ApiResult;

/// Moves the record `connector_id` to `status`; true when it was in another one (the
/// change is then stamped), false when it already was (or the record is gone).
pub async fn enter(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
    status: ConnectionStatus,
) -> ApiResult<bool> {
    let result = Entity::update_many()
        .col_expr(Column::ConnectionStatus, Expr::value(status.as_str()))
        .col_expr(Column::ConnectionStatusChangedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(connector_id))
        .filter(Column::ConnectionStatus.ne(status.as_str()))
        .exec(db)
        .await?;
    let changed = result.rows_affected == 1;
    if changed {
        tracing::info!(connector = %connector_id, status = status.as_str(), "connection status changed");
    }
    Ok(changed)
}

/// Moves the record `connector_id` from `from` to `to`; false (nothing written) when it
/// is in another status by now.
pub async fn leave(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
    from: ConnectionStatus,
    to: ConnectionStatus,
) -> ApiResult<bool> {
    if from == to {
        return Ok(false);
    }
    let result = Entity::update_many()
        .col_expr(Column::ConnectionStatus, Expr::value(to.as_str()))
        .col_expr(Column::ConnectionStatusChangedAt, Expr::value(Utc::now()))
        .filter(Column::Id.eq(connector_id))
        .filter(Column::ConnectionStatus.eq(from.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The status a held token (or none) stands for, when no flow is pending: the record
/// goes back to it after an abandoned or failed authorization-code callback.
pub fn of_token(token: Option<&Token>) -> ConnectionStatus {
    match token {
        None => ConnectionStatus::NotConnected,
        Some(t) if t.reauthorization_required_at.is_some() => {
            ConnectionStatus::NeedsReauthorization
        }
        Some(t) if t.failure_count > 0 => ConnectionStatus::RefreshFailing,
        Some(_) => ConnectionStatus::Active,
    }
}

/// The save's upsert values for the status columns: unchanged while the token settings
/// are, `NOT_CONNECTED` (stamped) once they change and a token or flow is invalidated.
pub fn status_on_conflict() -> [(Column, SimpleExpr); 2] {
    const SAME: &str =
        "connector_details.token_settings_fingerprint = excluded.token_settings_fingerprint";
    const IDLE: &str = "connector_details.connection_status = 'NOT_CONNECTED'";
    [
        (
            Column::ConnectionStatus,
            Expr::cust(format!(
                "CASE WHEN {SAME} THEN connector_details.connection_status \
                 ELSE 'NOT_CONNECTED' END"
            )),
        ),
        (
            Column::ConnectionStatusChangedAt,
            Expr::cust(format!(
                "CASE WHEN {SAME} OR {IDLE} THEN connector_details.connection_status_changed_at \
                 ELSE excluded.updated_at END"
            )),
        ),
    ]
}

/// How many records are in each status (all five present, zero included).
pub async fn count_by_status(db: &impl ConnectionTrait) -> ApiResult<Vec<(ConnectionStatus, i64)>> {
    #[derive(FromQueryResult)]
    struct Row {
        connection_status: String,
        count: i64,
    }
    let rows = Entity::find()
        .select_only()
        .column(Column::ConnectionStatus)
        .column_as(Expr::col(Column::Id).count(), "count")
        .group_by(Column::ConnectionStatus)
        .into_model::<Row>()
        .all(db)
        .await?;
    let mut counts: HashMap<ConnectionStatus, i64> = HashMap::new();
    for row in rows {
        *counts
            .entry(ConnectionStatus::parse(&row.connection_status))
            .or_default() += row.count;
    }
    Ok(ConnectionStatus::ALL
        .into_iter()
        .map(|status| (status, counts.get(&status).copied().unwrap_or(0)))
        .collect())
}
