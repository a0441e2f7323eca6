//! The walk over every sealed value (SPEC §5): the start-up check for key ids that are
//! not loaded, and re-encryption under the active key (`spaces-oauth rotate-keys`), for
//! the records' client secrets and detail values, held access and refresh tokens with
//! their provider values, and pending PKCE verifiers. Every value is sealed under its
//! record's key.

use entity::connector_details::{self as records, Model as Record};
use entity::{oauth_state, oauth_token};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use secrecy::ExposeSecret;

use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault, key_id_of};

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Rows whose ciphertexts were re-encrypted under the active key.
    pub records_rotated: u64,
    /// Rows changed by someone else while being rotated; retried in a later batch.
    pub records_skipped: u64,
}

/// Key ids named by stored ciphertexts but not loaded, so the server can refuse to start.
pub async fn unknown_key_ids(db: &impl ConnectionTrait, vault: &Vault) -> ApiResult<Vec<String>> {
    let mut known: Vec<String> = vault.key_ids().map(str::to_owned).collect();
    let mut unknown = Vec::new();
    for column in [
        records::Column::SealedClientSecret,
        records::Column::SealedDetailsSecrets,
    ] {
        unknown_in::<records::Entity>(db, column, &mut known, &mut unknown).await?;
    }
    for column in [
        oauth_token::Column::SealedAccessToken,
        oauth_token::Column::SealedRefreshToken,
        oauth_token::Column::SealedProviderValues,
    ] {
        unknown_in::<oauth_token::Entity>(db, column, &mut known, &mut unknown).await?;
    }
    let column = oauth_state::Column::SealedPkceVerifier;
    unknown_in::<oauth_state::Entity>(db, column, &mut known, &mut unknown).await?;
    Ok(unknown)
}

/// Adds to `unknown` (and `known`) each key id of `column` that `known` lacks. Each
/// query finds one value under a key id not seen yet; the loop ends after at most one
/// query per distinct key id.
async fn unknown_in<E: EntityTrait>(
    db: &impl ConnectionTrait,
    column: E::Column,
    known: &mut Vec<String>,
    unknown: &mut Vec<String>,
) -> ApiResult<()> {
    loop {
        let mut condition = Condition::all().add(column.is_not_null());
        for id in known.iter() {
            condition = condition.add(not_under_key(column, id));
        }
        let found: Option<Option<String>> = E::find()
            .select_only()
            .column(column)
            .filter(condition)
            .into_tuple()
            .one(db)
            .await?;
        let Some(Some(sealed)) = found else {
            return Ok(());
        };
        let id = key_id_of(&sealed).unwrap_or_default().to_owned();
        known.push(id.clone());
        unknown.push(id);
    }
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

    let stale_records = Condition::any()
        .add(stale(records::Column::SealedClientSecret, &active))
        .add(stale(records::Column::SealedDetailsSecrets, &active));
    walk(
        &mut report,
        async || {
            let batch = records::Entity::find().filter(stale_records.clone());
            Ok(batch.limit(batch_size).all(db).await?)
        },
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

    let stale_tokens = Condition::any()
        .add(stale(oauth_token::Column::SealedAccessToken, &active))
        .add(stale(oauth_token::Column::SealedRefreshToken, &active))
        .add(stale(oauth_token::Column::SealedProviderValues, &active));
    walk(
        &mut report,
        async || {
            let batch = oauth_token::Entity::find().filter(stale_tokens.clone());
            Ok(batch.limit(batch_size).all(db).await?)
        },
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

    let stale_states = stale(oauth_state::Column::SealedPkceVerifier, &active);
    walk(
        &mut report,
        async || {
            let batch = oauth_state::Entity::find().filter(stale_states.clone());
            Ok(batch.limit(batch_size).all(db).await?)
        },
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
    Ok(report)
}

/// Rotates batches from `next_batch` until none is left or a whole batch changed under
/// us (the next run picks it up). `rotate_row` answers whether its update applied, or
/// none when the row's record is gone.
async fn walk<Row>(
    report: &mut RotationReport,
    next_batch: impl AsyncFn() -> ApiResult<Vec<Row>>,
    rotate_row: impl AsyncFn(Row) -> ApiResult<Option<bool>>,
) -> ApiResult<()> {
    loop {
        let batch = next_batch().await?;
        if batch.is_empty() {
            return Ok(());
        }
        let mut progressed = false;
        for row in batch {
            match rotate_row(row).await? {
                Some(true) => {
                    report.records_rotated += 1;
                    progressed = true;
                }
                Some(false) => report.records_skipped += 1,
                None => {}
            }
        }
        if !progressed {
            return Ok(());
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

/// A sealed `column` that holds a value not under the active key id `active`.
fn stale(column: impl ColumnTrait, active: &str) -> Condition {
    Condition::all()
        .add(column.is_not_null())
        .add(not_under_key(column, active))
}

/// The column still holds `value` (or is still null).
fn unchanged(column: impl ColumnTrait, value: &Option<String>) -> SimpleExpr {
    match value {
        Some(v) => column.eq(v.as_str()),
        None => column.is_null(),
    }
}

/// `column` does not hold a ciphertext of `key_id` (`<key_id>:…`). Compared exactly:
/// SQLite's `LIKE` ignores case, so key ids `K1` and `k1` would be confused.
fn not_under_key(column: impl ColumnTrait, key_id: &str) -> SimpleExpr {
    let prefix = format!("{key_id}:");
    // `integer` on PostgreSQL, whose substr has no bigint form.
    let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    let head = Func::cust(Alias::new("substr"))
        .arg(column.into_expr())
        .arg(1i32)
        .arg(length);
    ExprTrait::ne(Expr::expr(head), prefix)
}
