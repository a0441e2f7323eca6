//! Provider values (SPEC §11): what an IdP hands over besides the token that the
//! runtime needs later, such as Salesforce's `instance_url` in the token response or
//! QuickBooks' `realmId` on the callback URL. Secret-named members never become one.

use serde_json::{Map, Value};

use crate::secret_names::is_secret_name;

/// Token-response members that are the token itself, never provider values.
const TOKEN_MEMBERS: [&str; 6] = [
    "access_token",
    "refresh_token",
    "id_token",
    "token_type",
    "expires_in",
    "scope",
];

/// Scalar values kept with a token, by name, in the order the IdP sent them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderValues(Map<String, Value>);

impl ProviderValues {
    /// The members of a token response other than the token's own and secret-named
    /// ones, whose values are strings, numbers or booleans.
    pub fn from_token_response(members: &Map<String, Value>) -> Self {
        Self(
            members
                .iter()
                .filter(|(name, value)| {
                    !TOKEN_MEMBERS.contains(&name.as_str())
                        && !is_secret_name(name)
                        && is_scalar(value)
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        )
    }

    /// The authorization-code callback's query parameters other than `code`, `state`,
    /// `error*`, `iss` and secret-named ones; a repeated name keeps its last value.
    pub fn from_callback_query<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self(
            pairs
                .into_iter()
                .filter(|(name, _)| is_callback_value(name.as_ref()))
                .map(|(name, value)| {
                    (
                        name.as_ref().to_owned(),
                        Value::String(value.as_ref().to_owned()),
                    )
                })
                .collect(),
        )
    }

    /// Reads values stored with [`ProviderValues::to_json`]; anything that would not
    /// have been kept (a secret name, a nested value) is dropped again.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let map: Map<String, Value> = serde_json::from_str(text)?;
        Ok(Self(
            map.into_iter()
                .filter(|(name, value)| !is_secret_name(name) && is_scalar(value))
                .collect(),
        ))
    }

    /// A JSON object string (`tokenStatus.providerValues`).
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// Puts `newer` over these values: a refresh's values replace the held ones of
    /// the same name, and held values the refresh did not repeat stay (SPEC §11).
    pub fn merge(&mut self, newer: ProviderValues) {
        for (name, value) in newer.0 {
            self.0.insert(name, value);
        }
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn is_callback_value(name: &str) -> bool {
    !matches!(name, "code" | "state" | "iss")
        && !name.to_ascii_lowercase().starts_with("error")
        && !is_secret_name(name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn token_response_keeps_scalars_but_not_token_or_secret_members() {
        let members = object(json!({
            "access_token": "a", "refresh_token": "r", "id_token": "i",
            "token_type": "Bearer", "expires_in": 3600, "scope": "api",
            "instance_url": "https://eu1.salesforce.com", "issued_at": "1700000000",
            "hub_id": 42, "is_sandbox": false,
            "client_secret": "planted-secret-1", "Private-Key": "planted-secret-2",
            "signature": null, "scopes": ["a"], "nested": {"x": 1}
        }));
        let values = ProviderValues::from_token_response(&members);
        assert_eq!(
            values.to_json(),
            r#"{"instance_url":"https://eu1.salesforce.com","issued_at":"1700000000","hub_id":42,"is_sandbox":false}"#
        );
        assert!(!values.to_json().contains("planted-secret"));
    }

    #[test]
    fn callback_query_keeps_realm_id_only() {
        let values = ProviderValues::from_callback_query([
            ("code", "c"),
            ("state", "s"),
            ("iss", "https://idp"),
            ("error", "x"),
            ("error_description", "y"),
            ("ErrorUri", "z"),
            ("password", "planted-secret"),
            ("realmId", "4620816365"),
        ]);
        assert_eq!(values.to_json(), r#"{"realmId":"4620816365"}"#);
    }

    #[test]
    fn merge_puts_newer_values_over_held_ones() {
        let mut held = ProviderValues::from_token_response(&object(json!({
            "instance_url": "https://old", "realmId": "1"
        })));
        held.merge(ProviderValues::from_token_response(&object(json!({
            "instance_url": "https://new", "issued_at": "2"
        }))));
        assert_eq!(
            held.to_json(),
            r#"{"instance_url":"https://new","realmId":"1","issued_at":"2"}"#
        );
    }

    #[test]
    fn stored_values_round_trip_and_are_filtered_again() {
        let values = ProviderValues::from_callback_query([("realmId", "7")]);
        assert_eq!(
            ProviderValues::from_json(&values.to_json()).unwrap(),
            values
        );
        let tampered = ProviderValues::from_json(r#"{"a":1,"clientSecret":"s","b":[1]}"#).unwrap();
        assert_eq!(tampered.to_json(), r#"{"a":1}"#);
        assert!(ProviderValues::from_json("[1]").is_err());
    }
}
