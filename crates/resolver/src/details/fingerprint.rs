//! The token-settings fingerprint (SPEC §6, §10): a hash of the settings a held token
//! was obtained with (client id, token and authorization URLs, scope, refresh URL,
//! discovery URL, provider). A held token, or a pending authorization, is valid only
//! while its fingerprint equals the record's; this module is the one place that
//! decides it, in Rust and in SQL. A save that changes the fingerprint deletes the
//! record's token and pending authorizations in the same statement (the trigger of
//! migration `m20261202_000040_settings_changes`), so changing the settings back never
//! revives a token and no reader ever has to delete one.

use entity::connector_details::{Column, Model as Record};
use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Expr, SimpleExpr};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The details keys a token depends on besides the record's client id (SPEC §6).
const SETTINGS: [&str; 4] = [
    "clientId",
    "accessTokenURL",
    "authorizationTokenURL",
    "scope",
];

/// Token settings SPEC §10 added. They are hashed only when present, so the
/// fingerprint of a record without them is what it was before they existed (an
/// unchanged save must not drop its token).
const LATER_SETTINGS: [&str; 3] = ["refreshTokenURL", "discoveryURL", "provider"];

/// The token settings of a details object, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenSettings {
    settings: Vec<Option<String>>,
    later: Vec<(&'static str, String)>,
}

impl TokenSettings {
    /// Reads the settings as optional string keys of `details`.
    pub fn of(details: &Map<String, Value>) -> Self {
        let string = |key: &str| details.get(key).and_then(Value::as_str).map(str::to_owned);
        Self {
            settings: SETTINGS.iter().map(|key| string(key)).collect(),
            later: LATER_SETTINGS
                .iter()
                .filter_map(|key| Some((*key, string(key)?)))
                .collect(),
        }
    }
}

/// The fingerprint of a record's token settings: `client_id` followed by the details'
/// token settings.
pub fn of(client_id: &str, token_settings: &TokenSettings) -> String {
    let mut hasher = Sha256::new();
    hasher.update([1]);
    length_prefixed(&mut hasher, client_id);
    for setting in &token_settings.settings {
        match setting {
            Some(setting) => {
                hasher.update([1]);
                length_prefixed(&mut hasher, setting);
            }
            None => hasher.update([0]),
        }
    }
    for (name, setting) in &token_settings.later {
        hasher.update([2]);
        length_prefixed(&mut hasher, name);
        length_prefixed(&mut hasher, setting);
    }
    hex::encode(hasher.finalize())
}

fn length_prefixed(hasher: &mut Sha256, value: &str) {
    hasher.update((value.len() as u64).to_be_bytes());
    hasher.update(value.as_bytes());
}

/// True when something obtained under `held` (a token, a pending authorization) is still
/// valid for a record whose fingerprint is `current`.
pub fn matches(held: &str, current: &str) -> bool {
    held == current
}

/// The save's upsert value for `is_token_generated`: the saved flag while the settings
/// are unchanged, false once they change (the held token is then deleted).
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
    use serde_json::json;

    use super::*;

    fn settings(details: Value) -> TokenSettings {
        match details {
            Value::Object(map) => TokenSettings::of(&map),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_missing_setting_differs_from_an_empty_one() {
        let none = of("c", &settings(json!({})));
        let empty = of("c", &settings(json!({ "clientId": "" })));
        assert_ne!(none, empty);
        assert!(matches(&none, &of("c", &settings(json!({})))));
        assert!(!matches(&none, &of("d", &settings(json!({})))));
    }

    #[test]
    fn every_token_setting_changes_the_fingerprint() {
        let base = of("c", &settings(json!({})));
        for key in SETTINGS.iter().chain(&LATER_SETTINGS) {
            let changed = of("c", &settings(json!({ *key: "https://x.example" })));
            assert_ne!(base, changed, "{key}");
        }
        assert_eq!(base, of("c", &settings(json!({ "baseURL": "https://x" }))));
    }

    #[test]
    fn records_without_the_later_settings_keep_their_old_fingerprint() {
        // The fingerprint as computed before SPEC §10 added the later settings.
        let mut hasher = Sha256::new();
        hasher.update([1]);
        hasher.update(1u64.to_be_bytes());
        hasher.update(b"c");
        for _ in SETTINGS {
            hasher.update([0]);
        }
        let old = hex::encode(hasher.finalize());
        assert_eq!(old, of("c", &settings(json!({ "other": "x" }))));
    }
}
