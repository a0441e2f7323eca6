//! Database work for connector details. Every function takes a validated `RecordKey` or
//! `Tenant`, so every statement is scoped to the caller's tenant.

use chrono::Utc;
use entity::connector_details::{ActiveModel, Column, Entity, Model};
use events::{ConnectionStatus, EventType, Events};
use sea_orm::sea_query::{
    Expr, ExprTrait as _, Func, InsertStatement, OnConflict, Query, QueryStatementBuilder as _,
    SelectStatement, UnionType,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, Iterable as _, QueryFilter, QueryOrder, QuerySelect, Select,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::Services;
use crate::connection_events::emit;
use crate::context::Tenant;
use crate::details::new_secret::{self, NewClientSecret};
use crate::details::sealed::{open_details, seal_details};
use crate::details::{self, PLACEHOLDER, fingerprint};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle;
use crate::record_key::RecordKey;
use crate::vault::Slot;

const MAX_CLIENT_ID_LEN: usize = 1024;

/// The non-key fields of a save.
pub struct SaveFields<'a> {
    pub is_token_generated: bool,
    pub oauth_connector_details: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
}

/// Upserts the record at `key` (SPEC §3): the id survives, a real client secret and
/// secret-named detail values are vaulted, and a change of the token settings clears
/// `isTokenGenerated` (and deletes the held token, `details::fingerprint`). A change
/// of identity provider drops every vaulted value the save did not send anew
/// (`details::binding`, SPEC §10).
///
/// One statement in the common case, through the save queue (which may write it
/// together with other callers' saves); a transaction of its own only when the details
/// carry placeholders whose vaulted values must be read back and kept.
pub async fn save(
    services: &Services,
    key: &RecordKey,
    fields: SaveFields<'_>,
) -> ApiResult<Model> {
    let vault = &services.vault;
    if fields.client_id.chars().count() > MAX_CLIENT_ID_LEN {
        return Err(ApiError::invalid_input(
            "clientId",
            format!("clientId must be at most {MAX_CLIENT_ID_LEN} characters"),
        ));
    }
    let masked = details::mask(fields.oauth_connector_details, &services.tokens.catalog)?;
    let sealed_client_secret = NewClientSecret::parse(fields.client_secret)?
        .map(|secret| vault.seal(key, Slot::ClientSecret, secret.expose()));
    let now = Utc::now();
    let mut row = ActiveModel {
        client_id: Set(fields.client_id.to_owned()),
        client_secret: Set(PLACEHOLDER.to_owned()),
        sealed_client_secret: Set(sealed_client_secret),
        oauth_connector_details: Set(masked.masked),
        sealed_details_secrets: Set(seal_details(vault, key, &masked.secrets)?),
        token_settings_fingerprint: Set(fingerprint::of(fields.client_id, &masked.token_settings)),
        secret_binding: Set(Some(masked.secret_binding.hash().to_owned())),
        is_token_generated: Set(fields.is_token_generated),
        created_at: Set(now),
        updated_at: Set(now),
        ..key.new_row()
    };
    if masked.kept.is_empty() {
        return services.saves.save(key.clone(), row).await;
    }
    // Read then write: on SQLite a deferred transaction that read before another writer
    // committed cannot write any more (SQLITE_BUSY_SNAPSHOT), so take the write lock
    // first (BEGIN IMMEDIATE). PostgreSQL ignores the mode and locks the row below.
    let txn = services
        .db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let mut secrets = masked.secrets;
    // Placeholders keep vaulted values only while the record keeps its identity
    // provider; otherwise they mean "none" (SPEC §10).
    if let Some(existing) = key.find_for_update(&txn).await?
        && masked
            .secret_binding
            .holds(existing.secret_binding.as_deref())
    {
        let vaulted = open_details(vault, &existing)?;
        for pointer in masked.kept {
            if let Some(value) = vaulted.get(&pointer) {
                secrets.insert(pointer, value.clone());
            }
        }
        row.sealed_details_secrets = Set(seal_details(vault, key, &secrets)?);
    }
    let saved = save_rows(&txn, [(key, &row)], services.max_records_per_tenant).await?;
    txn.commit().await?;
    saved
        .into_iter()
        .next()
        .ok_or(ApiError::QuotaExceeded(services.max_records_per_tenant))
}

/// The record at `key`, if any.
pub async fn find(db: &impl ConnectionTrait, key: &RecordKey) -> ApiResult<Option<Model>> {
    key.find(db).await
}

/// Up to `first` records of `integration_pack_instance_id` in `tenant`, oldest first
/// (ties by id), after the record whose id is `after` (SPEC §13).
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: &Tenant,
    integration_pack_instance_id: &str,
    first: u64,
    after: Option<uuid::Uuid>,
) -> ApiResult<Vec<Model>> {
    let list = (
        tenant.space_guid(),
        tenant.account_id(),
        integration_pack_instance_id,
    );
    let cursor = match after {
        Some(after) => {
            let cursor = list_of(list)
                .filter(Column::Id.eq(after))
                .one(db)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_input(
                        "after",
                        "after must be the id of a record of this list",
                    )
                })?;
            Some((cursor.created_at, cursor.id))
        }
        None => None,
    };
    Ok(page(list, cursor, first).all(db).await?)
}

/// The records of one list: (Space guid, account id, integration pack instance id).
pub type ListOf<'a> = (&'a str, &'a str, &'a str);

fn list_of((space_guid, account_id, integration_pack_instance_id): ListOf<'_>) -> Select<Entity> {
    Entity::find()
        .filter(Column::SpaceGuid.eq(space_guid))
        .filter(Column::AccountId.eq(account_id))
        .filter(Column::IntegrationPackInstanceId.eq(integration_pack_instance_id))
}

/// One page of a list: up to `first` records after `cursor` (created_at, id), in that
/// order. One range of the `connector_details_list` index: the cursor is a row-value
/// comparison, so a deep page does not walk every earlier record (issue 20).
pub fn page(
    list: ListOf<'_>,
    cursor: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
    first: u64,
) -> Select<Entity> {
    let mut select = list_of(list);
    if let Some((created_at, id)) = cursor {
        select = select.filter(
            Expr::tuple([Expr::col(Column::CreatedAt), Expr::col(Column::Id)])
                .gt(Expr::tuple([Expr::value(created_at), Expr::value(id)])),
        );
    }
    select
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(first)
}

/// The statement deleting the record at `key`: one row by the unique `key_hash` index;
/// its tokens and pending authorizations go by the foreign keys' cascades, which use
/// `oauth_tokens`' primary key and `oauth_states_connector`.
pub fn delete_one(key: &RecordKey) -> sea_orm::DeleteMany<Entity> {
    Entity::delete_many().filter(key.condition())
}

/// Deletes the record at `key`; true when one existed. The `connection.deleted` event
/// is written in the same transaction (SPEC §12).
pub async fn delete(db: &DatabaseConnection, events: &Events, key: &RecordKey) -> ApiResult<bool> {
    let txn = db.begin().await?;
    let deleted = delete_one(key).exec_with_returning(&txn).await?;
    let mut emitted = Vec::with_capacity(deleted.len());
    for record in &deleted {
        emitted.push(
            emit::emit(
                events,
                &txn,
                EventType::Deleted,
                record,
                ConnectionStatus::NotConnected,
            )
            .await?,
        );
    }
    txn.commit().await?;
    emitted.into_iter().for_each(|e| events.committed(e));
    Ok(!deleted.is_empty())
}

/// Upserts `rows`, each the record at its key, with one statement (one round trip):
/// `INSERT … SELECT … ON CONFLICT (record key) DO UPDATE … RETURNING`. The tenant quota
/// (SPEC §13) is part of it: each row's `SELECT` has the condition of [`room_for`], and a
/// row it refuses is missing from the records returned. Rows racing each other may
/// overshoot the quota by the number in flight: it bounds growth, it is not a
/// transactional invariant.
pub(super) async fn save_rows<'a>(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = (&'a RecordKey, &'a ActiveModel)>,
    max_records_per_tenant: u64,
) -> ApiResult<Vec<Model>> {
    let statement = save_statement(rows, max_records_per_tenant)?;
    let statement = db.get_database_backend().build(&statement);
    Ok(Entity::find().from_raw_sql(statement).all(db).await?)
}

/// The statement of [`save_rows`]. Every row must set the same columns (`RecordKey::new_row`
/// and a save's fields).
pub fn save_statement<'a>(
    rows: impl IntoIterator<Item = (&'a RecordKey, &'a ActiveModel)>,
    max_records_per_tenant: u64,
) -> ApiResult<InsertStatement> {
    let mut rows = rows.into_iter().peekable();
    let columns: Vec<Column> = match rows.peek() {
        Some((_, first)) => Column::iter()
            .filter(|c| !first.get(*c).is_not_set())
            .collect(),
        None => Vec::new(),
    };
    let mut selects: Option<SelectStatement> = None;
    for (key, row) in rows {
        let mut select = Query::select();
        for column in &columns {
            let value = row.get(*column).into_value().ok_or_else(|| {
                ApiError::internal(std::io::Error::other("a batched save lacks a column"))
            })?;
            select.expr(Expr::val(value));
        }
        select.and_where(room_for(key, max_records_per_tenant));
        match &mut selects {
            Some(first) => {
                first.union(UnionType::All, select);
            }
            None => selects = Some(select),
        }
    }
    let selects =
        selects.ok_or_else(|| ApiError::internal(std::io::Error::other("a save of no rows")))?;
    let mut insert = Query::insert();
    insert
        .into_table(Entity)
        .columns(columns)
        .select_from(selects)
        .map_err(ApiError::internal)?
        .on_conflict(on_conflict())
        .returning(Query::returning().columns(Column::iter()));
    Ok(insert)
}

/// The quota's condition on saving the record at `key`: its tenant holds fewer than `max`
/// records (one row of `tenant_record_counts`, kept by triggers), or the record exists
/// already (an update, always allowed; one probe of the unique `key_hash` index, made
/// only when the tenant is full).
fn room_for(key: &RecordKey, max: u64) -> Expr {
    use entity::tenant_record_count as counts;
    let held = Query::select()
        .column(counts::Column::Records)
        .from(counts::Entity)
        .and_where(counts::Column::SpaceGuid.eq(key.space_guid.as_str()))
        .and_where(counts::Column::AccountId.eq(key.account_id.as_str()))
        .to_owned();
    let stored = Query::select()
        .expr(Expr::val(1))
        .from(Entity)
        .and_where(Column::KeyHash.eq(key.key_hash()))
        .to_owned();
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    Expr::expr(Func::coalesce([
        Expr::SubQuery(None, Box::new(held.into_sub_query_statement())),
        Expr::val(0i64),
    ]))
    .lt(max)
    .or(Expr::exists(stored))
}

/// What a save does to an existing record: the upsert's `ON CONFLICT` clause.
pub(super) fn on_conflict() -> OnConflict {
    // The key's hash is the unique column (see `RecordKey::key_hash`).
    OnConflict::column(Column::KeyHash)
        .update_columns([
            Column::ClientId,
            Column::ClientSecret,
            Column::OauthConnectorDetails,
            Column::SealedDetailsSecrets,
            Column::TokenSettingsFingerprint,
            Column::SecretBinding,
            Column::UpdatedAt,
        ])
        .values(
            [
                new_secret::sealed_client_secret_on_conflict(),
                fingerprint::is_token_generated_on_conflict(),
            ]
            .into_iter()
            .chain(lifecycle::status_on_conflict()),
        )
        .to_owned()
}
