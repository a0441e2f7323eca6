//! The token-settings fingerprint (SPEC §6): a hash of the settings a held token was
//! obtained with (client id, token and authorization URLs, scope). A held token, or a
//! pending authorization, is valid only while its fingerprint equals the record's; this
//! module is the one place that decides it, in Rust and in SQL.

use entity::connector_details::{Column, Model as Record};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sha2::{Digest, Sha256};

/// The fingerprint of a record's token settings: `client_id` followed by the details'
/// token settings ([`super::MaskedDetails::token_settings`]).
pub fn of(client_id: &str, token_settings: &[Option<String>]) -> String {
    let mut hasher = Sha256::new();
    let client_id = Some(client_id);
    for setting in std::iter::once(client_id).chain(token_settings.iter().map(Option::as_deref)) {
        match setting {
            Some(value) => {
                hasher.update([1]);
                hasher.update((value.len() as u64).to_be_bytes());
                hasher.update(value.as_bytes());
            }
            None => hasher.update([0]),
        }
    }
    hex::encode(hasher.finalize())
}

/// True when something obtained under `held` (a token, a pending authorization) is still
/// valid for a record whose fingerprint is `current`.
pub fn matches(held: &str, current: &str) -> bool {
    held == current
}

/// The save's upsert value for `is_token_generated`: the saved flag while the settings
/// are unchanged, false once they change (a held token is then invalid).
pub fn is_token_generated_on_conflict() -> (Column, SimpleExpr) {
    (
        Column::IsTokenGenerated,
        Expr::cust(
            "CASE WHEN connector_details.token_settings_fingerprint = \
             excluded.token_settings_fingerprint THEN excluded.is_token_generated ELSE FALSE END",
        ),
    )
}

/// A condition that holds while `record`'s token settings are the ones it was read with,
/// for updates that must not apply once they changed.
pub fn unchanged(record: &Record) -> SimpleExpr {
    Column::TokenSettingsFingerprint.eq(record.token_settings_fingerprint.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_setting_differs_from_an_empty_one() {
        let none = of("c", &[None]);
        let empty = of("c", &[Some(String::new())]);
        assert_ne!(none, empty);
        assert!(matches(&none, &of("c", &[None])));
        assert!(!matches(&none, &of("d", &[None])));
    }
}
