//! The connection lifecycle's one writer (SPEC §10): every change of a record's
//! `connectionStatus` goes through [`enter`] (or, in a save's upsert, through
//! [`status_on_conflict`]), which stamps `connectionStatusChangedAt` only when the status
//! really changes. Which transition happens when is decided by the features: tokens
//! (generate, callback, refresh, revoke, read), client secrets (reset), saves (a change
//! of the token settings). The events of SPEC §12 that a status change carries are
//! chosen here ([`event_of`]) and written in the change's transaction ([`announce`]).
//! A leaf module over the entities and the events crate.

use chrono::Utc;
use entity::connector_details::{Column, Entity, Model as Record};
use entity::oauth_token::Model as Token;
use events::{ConnectionEvent, Enqueued, EventError, EventType, Events};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::code::Code;
use crate::connection_events::emit;
pub use crate::connection_status::ConnectionStatus;
use crate::error::ApiResult;

/// Moves the record `connector_id` to `status`; the status it left when it was in
/// another one (the change is then stamped), none when it already was (or the record
/// is gone).
pub async fn enter(
    db: &impl ConnectionTrait,
    connector_id: Uuid,
    status: ConnectionStatus,
) -> ApiResult<Option<ConnectionStatus>> {
    let current: Option<String> = Entity::find_by_id(connector_id)
        .select_only()
        .column(Column::ConnectionStatus)
        .into_tuple()
        .one(db)
        .await?;
    let Some(from) = current.as_deref().map(ConnectionStatus::parse) else {
        return Ok(None);
    };
    // Conditional on the status just read: of two concurrent changes one wins.
    Ok(leave(db, connector_id, from, status).await?.then_some(from))
}

/// The event a change from `from` to `to` made by a refresh (or by finding a token
/// that nothing can renew) emits (SPEC §12): `connection.refresh_failed` on entering
/// `REFRESH_FAILING`, `connection.needs_reauthorization` on entering
/// `NEEDS_REAUTHORIZATION`, `connection.recovered` back to `ACTIVE` from either.
/// Generations emit `connection.token_generated` themselves.
pub fn event_of(from: ConnectionStatus, to: ConnectionStatus) -> Option<EventType> {
    use ConnectionStatus::{Active, NeedsReauthorization, RefreshFailing};
    match (from, to) {
        (_, RefreshFailing) => Some(EventType::RefreshFailed),
        (_, NeedsReauthorization) => Some(EventType::NeedsReauthorization),
        (RefreshFailing | NeedsReauthorization, Active) => Some(EventType::Recovered),
        _ => None,
    }
}

/// The failure behind an event: a SPEC §7 code and the IdP's `error` code.
pub fn event_error(code: Code, idp_error: Option<&str>) -> EventError {
    EventError {
        code: code.as_str().to_owned(),
        idp_error: idp_error.map(str::to_owned),
    }
}

/// Writes the event of `record`'s change from `from` to `to` ([`event_of`]), if it has
/// one, through `txn` (the change's transaction); pass the result to
/// `Events::committed` after the commit.
pub async fn announce(
    events: &Events,
    txn: &impl ConnectionTrait,
    record: &Record,
    from: ConnectionStatus,
    to: ConnectionStatus,
    error: Option<EventError>,
) -> ApiResult<Option<Enqueued>> {
    let Some(kind) = event_of(from, to) else {
        return Ok(None);
    };
    let mut data = emit::data(record, to.into());
    data.error = error;
    Ok(Some(
        events
            .enqueue(txn, ConnectionEvent::now(kind, data))
            .await?,
    ))
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
    let changed = result.rows_affected == 1;
    if changed {
        tracing::info!(connector = %connector_id, from = from.as_str(), to = to.as_str(), "connection status changed");
    }
    Ok(changed)
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

/// How many records are in each status (all five present, zero included): sums of the
/// per-tenant counts the database's triggers keep (`tenant_record_counts`), one row per
/// tenant, where counting the records themselves read one index entry per record.
pub async fn count_by_status(db: &impl ConnectionTrait) -> ApiResult<Vec<(ConnectionStatus, i64)>> {
    use entity::tenant_record_count::{Column as Counts, Entity as TenantCounts};
    use sea_orm::{IdenStatic as _, QueryTrait as _};
    let counted_in = |status: ConnectionStatus| match status {
        ConnectionStatus::NotConnected => Counts::NotConnected,
        ConnectionStatus::PendingAuthorization => Counts::PendingAuthorization,
        ConnectionStatus::Active => Counts::Active,
        ConnectionStatus::RefreshFailing => Counts::RefreshFailing,
        ConnectionStatus::NeedsReauthorization => Counts::NeedsReauthorization,
    };
    let mut select = TenantCounts::find().select_only();
    for status in ConnectionStatus::ALL {
        // SUM of a bigint is a numeric on PostgreSQL (and NULL over no rows): cast back.
        let column = counted_in(status).as_str();
        select = select.column_as(
            Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)")),
            column,
        );
    }
    let totals = db.query_one(&select.into_query()).await?;
    let mut counts = Vec::with_capacity(ConnectionStatus::ALL.len());
    for status in ConnectionStatus::ALL {
        let count = match &totals {
            Some(row) => row.try_get::<i64>("", counted_in(status).as_str())?,
            None => 0,
        };
        counts.push((status, count));
    }
    Ok(counts)
}
