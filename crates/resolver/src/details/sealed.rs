//! What the vault holds for a record (SPEC §5): its detail values and client secret,
//! sealed under the record's key, opened and sealed here only.

use entity::connector_details::Model as Record;
use secrecy::{ExposeSecret, SecretString};

use super::DetailSecrets;
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;
use crate::vault::{Slot, Vault};

/// The vaulted detail values of a record (empty when none).
pub fn open_details(vault: &Vault, record: &Record) -> ApiResult<DetailSecrets> {
    let Some(sealed) = &record.sealed_details_secrets else {
        return Ok(DetailSecrets::new());
    };
    let json = vault
        .open(&RecordKey::of(record), Slot::DetailsSecrets, sealed)
        .map_err(ApiError::internal)?;
    serde_json::from_str(json.expose_secret()).map_err(ApiError::internal)
}

/// The sealed column value for `secrets` at `key`; none when there are none.
pub fn seal_details(
    vault: &Vault,
    key: &RecordKey,
    secrets: &DetailSecrets,
) -> ApiResult<Option<String>> {
    if secrets.is_empty() {
        return Ok(None);
    }
    let json = serde_json::to_string(secrets).map_err(ApiError::internal)?;
    Ok(Some(vault.seal(key, Slot::DetailsSecrets, &json)))
}

/// The client secret the vault holds for `record`, if any.
pub fn open_client_secret(vault: &Vault, record: &Record) -> ApiResult<Option<SecretString>> {
    open_optional(
        vault,
        record,
        Slot::ClientSecret,
        &record.sealed_client_secret,
    )
}

/// Opens `sealed`, a value in `slot` of `record` (or of a row belonging to it); a value
/// that does not open is an internal error.
pub fn open(vault: &Vault, record: &Record, slot: Slot, sealed: &str) -> ApiResult<SecretString> {
    vault
        .open(&RecordKey::of(record), slot, sealed)
        .map_err(ApiError::internal)
}

/// [`open`] for a column that may be empty.
pub fn open_optional(
    vault: &Vault,
    record: &Record,
    slot: Slot,
    sealed: &Option<String>,
) -> ApiResult<Option<SecretString>> {
    sealed
        .as_deref()
        .map(|sealed| open(vault, record, slot, sealed))
        .transpose()
}
