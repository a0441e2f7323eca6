//! What the background refresher looks at (SPEC §6, §10): the tokens due for a refresh,
//! taken fairly across tenants, and the expired tokens nothing can renew. Both scans
//! walk the `oauth_tokens_due` index (`expires_at`, only tokens not marked for
//! re-authorization), so terminal tokens, which stay expired forever, cost nothing.

use std::time::Duration;

use entity::connector_details::{Column as RecordColumn, Entity as Records};
use entity::oauth_token::{Column, Entity, Model as Token};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait as _, Func, Order, OverStatement as _, Query, SelectStatement,
    WindowStatement,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::lease;
use super::types::GrantType;
use crate::db_clock;
use crate::error::ApiResult;

/// A tenant (SPEC §2): Space guid and account.
pub type TenantKey = (String, String);

/// A token due for a refresh, and whose it is.
#[derive(Debug, FromQueryResult)]
pub struct Due {
    pub connector_id: Uuid,
    pub space_guid: String,
    pub account_id: String,
}

impl Due {
    /// The tenant the token belongs to.
    pub fn tenant(&self) -> TenantKey {
        (self.space_guid.clone(), self.account_id.clone())
    }
}

/// How much one scan takes.
#[derive(Clone, Copy, Debug)]
pub struct Scan {
    /// Tokens expiring within this are due.
    pub ahead: Duration,
    /// At most this many tokens of one tenant.
    pub per_tenant: u64,
    /// At most this many tokens in all.
    pub batch: u64,
}

/// The due-scan: refreshable tokens expiring within `scan.ahead` (database clock) whose
/// backoff has passed, that no live lease covers and that are not marked for
/// re-authorization; at most `per_tenant` of each tenant, taken in turns (every
/// tenant's soonest first, then every tenant's second, …), so one tenant's many
/// connections cannot crowd out another's.
pub fn select(backend: DbBackend, scan: Scan) -> SelectStatement {
    let (tokens, records) = (Entity, Records);
    let turn = Alias::new("turn");
    let mut window = WindowStatement::new();
    window
        .partition_by((records, RecordColumn::SpaceGuid))
        .partition_by((records, RecordColumn::AccountId))
        .order_by((tokens, Column::ExpiresAt), Order::Asc);
    let inner = Query::select()
        .column((tokens, Column::ConnectorId))
        .column((tokens, Column::ExpiresAt))
        .column((records, RecordColumn::SpaceGuid))
        .column((records, RecordColumn::AccountId))
        .expr_window_as(Func::cust(Alias::new("ROW_NUMBER")), window, turn.clone())
        .from(tokens)
        .inner_join(
            records,
            Expr::col((records, RecordColumn::Id)).equals((tokens, Column::ConnectorId)),
        )
        .cond_where(due(backend, scan.ahead))
        .to_owned();
    Query::select()
        .columns([
            Alias::new("connector_id"),
            Alias::new("space_guid"),
            Alias::new("account_id"),
        ])
        .from_subquery(inner, Alias::new("due"))
        .and_where(Expr::col(turn.clone()).lte(scan.per_tenant))
        .order_by(turn, Order::Asc)
        .order_by(Alias::new("expires_at"), Order::Asc)
        .limit(scan.batch)
        .to_owned()
}

/// The tokens due now ([`select`]).
pub async fn scan(db: &impl ConnectionTrait, scan: Scan) -> ApiResult<Vec<Due>> {
    let backend = db.get_database_backend();
    Ok(
        Due::find_by_statement(backend.build(&select(backend, scan)))
            .all(db)
            .await?,
    )
}

fn due(backend: DbBackend, ahead: Duration) -> Condition {
    let now = db_clock::now(backend);
    Condition::all()
        .add(Expr::col(Column::ExpiresAt).lte(db_clock::now_plus(backend, ahead)))
        .add(Column::ReauthorizationRequiredAt.is_null())
        .add(
            Condition::any()
                .add(Column::NextAttemptAt.is_null())
                .add(Expr::col(Column::NextAttemptAt).lte(now)),
        )
        .add(lease::free(backend))
        .add(
            Condition::any()
                .add(Column::SealedRefreshToken.is_not_null())
                .add(Column::GrantType.eq(GrantType::ClientCredentials.as_str())),
        )
}

/// Expired tokens that neither a refresh token nor a non-interactive grant can renew,
/// not yet marked (SPEC §10 `NEEDS_REAUTHORIZATION`); at most `batch`.
pub async fn unrenewable(db: &impl ConnectionTrait, batch: u64) -> ApiResult<Vec<Token>> {
    let backend = db.get_database_backend();
    Ok(select_unrenewable(backend, batch).all(db).await?)
}

/// The query of [`unrenewable`].
pub fn select_unrenewable(backend: DbBackend, batch: u64) -> sea_orm::Select<Entity> {
    Entity::find()
        .filter(Expr::col(Column::ExpiresAt).lte(db_clock::now(backend)))
        .filter(Column::ReauthorizationRequiredAt.is_null())
        .filter(Column::SealedRefreshToken.is_null())
        .filter(Column::GrantType.ne(GrantType::ClientCredentials.as_str()))
        .order_by_asc(Column::ExpiresAt)
        .limit(batch)
}
