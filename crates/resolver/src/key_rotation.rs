//! Keeping the vault's stored ciphertexts and loaded keys in step (SPEC §5): the
//! start-up check for key ids that are not loaded, and re-encryption under the active
//! key (`spaces-oauth rotate-keys`), for records here and for token rows in
//! `tokens::rotation`.

use entity::connector_details::{ActiveModel, Column, Entity, Model};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect,
};
use secrecy::ExposeSecret;

use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault, key_id_of};

/// Sealed columns of `connector_details`, with the slot each is bound to.
const SEALED_COLUMNS: [(Column, Slot); 2] = [
    (Column::SealedClientSecret, Slot::ClientSecret),
    (Column::SealedDetailsSecrets, Slot::DetailsSecrets),
];

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Records whose ciphertexts were re-encrypted under the active key.
    pub records_rotated: u64,
    /// Records changed by someone else while being rotated; retried in a later batch.
    pub records_skipped: u64,
}

/// Key ids named by stored ciphertexts but not loaded, so the server can refuse to start.
pub async fn unknown_key_ids(db: &impl ConnectionTrait, vault: &Vault) -> ApiResult<Vec<String>> {
    let mut known: Vec<String> = vault.key_ids().map(str::to_owned).collect();
    let mut unknown = Vec::new();
    for (column, _) in SEALED_COLUMNS {
        unknown_in::<Entity>(db, column, &mut known, &mut unknown).await?;
    }
    crate::tokens::rotation::unknown_key_ids(db, &mut known, &mut unknown).await?;
    Ok(unknown)
}

/// Adds to `unknown` (and `known`) each key id of `column` that `known` lacks. Each
/// query finds one value under a key id not seen yet; the loop ends after at most one
/// query per distinct key id.
pub(crate) async fn unknown_in<E: EntityTrait>(
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

/// `column` does not hold a ciphertext of `key_id` (`<key_id>:…`). Compared exactly:
/// SQLite's `LIKE` ignores case, so key ids `K1` and `k1` would be confused.
pub(crate) fn not_under_key(column: impl ColumnTrait, key_id: &str) -> SimpleExpr {
    let prefix = format!("{key_id}:");
    // `integer` on PostgreSQL, whose substr has no bigint form.
    let length = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    let head = Func::cust(Alias::new("substr"))
        .arg(column.into_expr())
        .arg(1i32)
        .arg(length);
    ExprTrait::ne(Expr::expr(head), prefix)
}

/// Re-encrypts every ciphertext that is not under the active key, `batch_size` records
/// at a time. Safe while servers serve: each update only applies if the record still
/// holds the ciphertexts that were read, and the work resumes where it stopped.
pub async fn rotate(
    db: &impl ConnectionTrait,
    vault: &Vault,
    batch_size: u64,
) -> ApiResult<RotationReport> {
    let active = vault.active_key_id();
    let mut stale = Condition::any();
    for (column, _) in SEALED_COLUMNS {
        stale = stale.add(
            Condition::all()
                .add(column.is_not_null())
                .add(not_under_key(column, active)),
        );
    }
    let mut report = RotationReport::default();
    loop {
        let batch = Entity::find()
            .filter(stale.clone())
            .limit(batch_size)
            .all(db)
            .await?;
        if batch.is_empty() {
            break;
        }
        let mut progressed = false;
        for record in batch {
            if rotate_record(db, vault, &record).await? {
                report.records_rotated += 1;
                progressed = true;
            } else {
                report.records_skipped += 1;
            }
        }
        if !progressed {
            // Everything in the batch changed under us; let the next run pick it up.
            break;
        }
    }
    crate::tokens::rotation::rotate(db, vault, batch_size, &mut report).await?;
    Ok(report)
}

async fn rotate_record(
    db: &impl ConnectionTrait,
    vault: &Vault,
    record: &Model,
) -> ApiResult<bool> {
    let reseal_column = |sealed: &Option<String>, slot| -> ApiResult<Option<String>> {
        sealed
            .as_deref()
            .map(|s| reseal(vault, record, slot, s))
            .transpose()
    };
    let update = ActiveModel {
        sealed_client_secret: Set(reseal_column(
            &record.sealed_client_secret,
            Slot::ClientSecret,
        )?),
        sealed_details_secrets: Set(reseal_column(
            &record.sealed_details_secrets,
            Slot::DetailsSecrets,
        )?),
        ..Default::default()
    };
    let result = Entity::update_many()
        .set(update)
        .filter(Column::Id.eq(record.id))
        .filter(unchanged(
            Column::SealedClientSecret,
            &record.sealed_client_secret,
        ))
        .filter(unchanged(
            Column::SealedDetailsSecrets,
            &record.sealed_details_secrets,
        ))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Opens `sealed` (`slot` of `record`) and seals it again under the active key. A value
/// that does not open stops the rotation with an error naming the record and the slot,
/// so the operator knows what to repair (the vault's reason never holds key material).
pub(crate) fn reseal(vault: &Vault, record: &Model, slot: Slot, sealed: &str) -> ApiResult<String> {
    let key = RecordKey::of(record);
    let plain = vault.open(&key, slot, sealed).map_err(|error| {
        ApiError::internal(std::io::Error::other(format!(
            "the {slot:?} of record {} does not open: {error}",
            record.id
        )))
    })?;
    Ok(vault.seal(&key, slot, plain.expose_secret()))
}

fn unchanged(column: Column, value: &Option<String>) -> SimpleExpr {
    match value {
        Some(v) => column.eq(v.as_str()),
        None => column.is_null(),
    }
}
