//! Re-encryption of every sealed value under the active key (SPEC §5, `spaces-oauth
//! rotate-keys`): the records' client secrets and detail values, held access and refresh
//! tokens with their provider values, and pending PKCE verifiers. Every value is sealed
//! under its record's key. Stale rows are found through the key-id indexes
//! ([`crate::key_ids`]).

use entity::connector_details::{self as records, Model as Record};
use entity::{oauth_state, oauth_token};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use secrecy::ExposeSecret;

use crate::error::{ApiError, ApiResult};
use crate::key_ids::{KeyIdCount, left_under_other_keys, stale_in};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows whose ciphertexts were re-encrypted under the active key.
    pub records_rotated: u64,
    /// Rows changed by someone else while being rotated; retried in a later batch.
    pub records_skipped: u64,
    /// What is still under another key than the active one once the run ended (empty
    /// when the rotation is complete): counted through the key-id indexes.
    pub left: Vec<KeyIdCount>,
}

/// Re-encrypts every ciphertext that is not under the active key, `batch_size` rows at a
/// time, table by table. Safe while servers serve: each update only applies if the row
/// still holds the ciphertexts that were read, and the work resumes where it stopped.
pub async fn rotate(
    db: &impl ConnectionTrait,
    vault: &Vault,
    batch_size: u64,
) -> ApiResult<RotationReport> {
    let active = vault.active_key_id().to_owned();
    let mut report = RotationReport::default();

    walk(
        &mut report,
        async |after: Option<uuid::Uuid>| {
            let batch =
                stale_batch::<records::Entity>(records::Column::Id, &active, after, batch_size);
            Ok(batch.all(db).await?)
        },
        |record: &records::Model| record.id,
        async |record: records::Model| {
            let client_secret = reseal_opt(
                vault,
                &record,
                Slot::ClientSecret,
                &record.sealed_client_secret,
            )?;
            let details = reseal_opt(
                vault,
                &record,
                Slot::DetailsSecrets,
                &record.sealed_details_secrets,
            )?;
            let result = records::Entity::update_many()
                .col_expr(
                    records::Column::SealedClientSecret,
                    Expr::value(client_secret),
                )
                .col_expr(records::Column::SealedDetailsSecrets, Expr::value(details))
                .filter(records::Column::Id.eq(record.id))
                .filter(unchanged(
                    records::Column::SealedClientSecret,
                    &record.sealed_client_secret,
                ))
                .filter(unchanged(
                    records::Column::SealedDetailsSecrets,
                    &record.sealed_details_secrets,
                ))
                .exec(db)
                .await?;
            Ok(Some(result.rows_affected == 1))
        },
    )
    .await?;

    walk(
        &mut report,
        async |after: Option<uuid::Uuid>| {
            let key = oauth_token::Column::ConnectorId;
            Ok(
                stale_batch::<oauth_token::Entity>(key, &active, after, batch_size)
                    .all(db)
                    .await?,
            )
        },
        |token: &oauth_token::Model| token.connector_id,
        async |token: oauth_token::Model| {
            let Some(record) = record_of(db, token.connector_id).await? else {
                return Ok(None);
            };
            let access = reseal(
                vault,
                &record,
                Slot::AccessToken,
                &token.sealed_access_token,
            )?;
            let refresh = reseal_opt(
                vault,
                &record,
                Slot::RefreshToken,
                &token.sealed_refresh_token,
            )?;
            let values = reseal_opt(
                vault,
                &record,
                Slot::ProviderValues,
                &token.sealed_provider_values,
            )?;
            let result = oauth_token::Entity::update_many()
                .col_expr(oauth_token::Column::SealedAccessToken, Expr::value(access))
                .col_expr(
                    oauth_token::Column::SealedRefreshToken,
                    Expr::value(refresh),
                )
                .col_expr(
                    oauth_token::Column::SealedProviderValues,
                    Expr::value(values),
                )
                .filter(oauth_token::Column::ConnectorId.eq(token.connector_id))
                .filter(
                    oauth_token::Column::SealedAccessToken.eq(token.sealed_access_token.as_str()),
                )
                .filter(unchanged(
                    oauth_token::Column::SealedRefreshToken,
                    &token.sealed_refresh_token,
                ))
                .filter(unchanged(
                    oauth_token::Column::SealedProviderValues,
                    &token.sealed_provider_values,
                ))
                .exec(db)
                .await?;
            Ok(Some(result.rows_affected == 1))
        },
    )
    .await?;

    walk(
        &mut report,
        async |after: Option<String>| {
            let key = oauth_state::Column::StateHash;
            Ok(
                stale_batch::<oauth_state::Entity>(key, &active, after, batch_size)
                    .all(db)
                    .await?,
            )
        },
        |state: &oauth_state::Model| state.state_hash.clone(),
        async |state: oauth_state::Model| {
            let Some(record) = record_of(db, state.connector_id).await? else {
                return Ok(None);
            };
            let sealed = reseal(
                vault,
                &record,
                Slot::PkceVerifier,
                &state.sealed_pkce_verifier,
            )?;
            let result = oauth_state::Entity::update_many()
                .col_expr(oauth_state::Column::SealedPkceVerifier, Expr::value(sealed))
                .filter(oauth_state::Column::StateHash.eq(state.state_hash.as_str()))
                .filter(
                    oauth_state::Column::SealedPkceVerifier.eq(state.sealed_pkce_verifier.as_str()),
                )
                .exec(db)
                .await?;
            Ok(Some(result.rows_affected == 1))
        },
    )
    .await?;
    report.left = left_under_other_keys(db, &active).await?;
    Ok(report)
}

/// Up to `size` rows of `primary_key`'s table holding a value under another key than
/// `active` ([`stale_in`]: ranges of the key-id indexes), after `after` in primary-key
/// order.
pub fn stale_batch<E: EntityTrait>(
    primary_key: E::Column,
    active: &str,
    after: Option<impl Into<sea_orm::Value>>,
    size: u64,
) -> Select<E> {
    let table = E::default().table_name();
    let mut select = E::find().filter(stale_in(table, active));
    if let Some(after) = after {
        select = select.filter(primary_key.gt(after));
    }
    select.order_by_asc(primary_key).limit(size)
}

/// Rotates batches from `next_batch`, in primary-key order: each batch starts after the
/// last row of the one before (`key_of`), so a run walks the table at most once, even
/// where the planner, whose statistics still count the rows just rotated as stale,
/// reads the table rather than the key-id indexes; rows changed meanwhile are left for
/// the next run. `rotate_row` answers whether its update applied, or none when the
/// row's record is gone.
async fn walk<Row, Key>(
    report: &mut RotationReport,
    next_batch: impl AsyncFn(Option<Key>) -> ApiResult<Vec<Row>>,
    key_of: impl Fn(&Row) -> Key,
    rotate_row: impl AsyncFn(Row) -> ApiResult<Option<bool>>,
) -> ApiResult<()> {
    let mut after = None;
    loop {
        let batch = next_batch(after.take()).await?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        after = Some(key_of(last));
        for row in batch {
            match rotate_row(row).await? {
                Some(true) => report.records_rotated += 1,
                Some(false) => report.records_skipped += 1,
                None => {}
            }
        }
    }
}

/// Opens `sealed` (`slot` of `record`) and seals it again under the active key. A value
/// that does not open stops the rotation with an error naming the record and the slot,
/// so the operator knows what to repair (the vault's reason never holds key material).
fn reseal(vault: &Vault, record: &Record, slot: Slot, sealed: &str) -> ApiResult<String> {
    let key = RecordKey::of(record);
    let plain = vault.open(&key, slot, sealed).map_err(|error| {
        ApiError::internal(std::io::Error::other(format!(
            "the {slot:?} of record {} does not open: {error}",
            record.id
        )))
    })?;
    Ok(vault.seal(&key, slot, plain.expose_secret()))
}

fn reseal_opt(
    vault: &Vault,
    record: &Record,
    slot: Slot,
    sealed: &Option<String>,
) -> ApiResult<Option<String>> {
    sealed
        .as_deref()
        .map(|s| reseal(vault, record, slot, s))
        .transpose()
}

async fn record_of(db: &impl ConnectionTrait, id: uuid::Uuid) -> ApiResult<Option<Record>> {
    Ok(records::Entity::find_by_id(id).one(db).await?)
}

/// The column still holds `value` (or is still null).
fn unchanged(column: impl ColumnTrait, value: &Option<String>) -> SimpleExpr {
    match value {
        Some(v) => column.eq(v.as_str()),
        None => column.is_null(),
    }
}
