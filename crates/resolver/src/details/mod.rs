//! `oauthConnectorDetails` (SPEC §4): validation, and masking of secret-named values.
//!
//! The string a client saves comes back byte for byte, except that the value of every
//! secret-named key, at any depth, is cut out for the vault and replaced by the
//! placeholder. To keep the bytes, values are located in the original text (serde_json's
//! `RawValue` borrows from it) and only those spans are rewritten.
//!
//! The other rules of a record's details live beside it: [`sealed`] (what the vault
//! holds), [`new_secret`] (the "no new secret" rule), [`fingerprint`] (which held
//! token still matches the settings) and [`binding`] (which identity provider the
//! vaulted values belong to).

pub mod binding;
pub mod fingerprint;
pub mod new_secret;
pub mod sealed;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{ApiError, ApiResult};

/// What masked secrets and stored client secrets read as (SPEC §3, §4).
pub const PLACEHOLDER: &str = "dummyClientSecret";

/// The largest details string accepted, in bytes (SPEC §4).
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// Known keys whose value, when present, must be a string.
const STRING_KEYS: [&str; 8] = [
    "baseURL",
    "companyId",
    "clientId",
    "grantType",
    "authorizationTokenURL",
    "accessTokenURL",
    "scope",
    "refreshAuthScheme",
];

/// Known keys whose value, when present, must map strings to strings.
const STRING_MAP_KEYS: [&str; 2] = ["authParams", "accessTokenParams"];

/// Secret values cut out of a details string: JSON pointer → the value's raw JSON text.
pub type DetailSecrets = BTreeMap<String, String>;

/// A validated details string, split into what is stored in clear and what is vaulted.
#[derive(Debug)]
pub struct MaskedDetails {
    /// The client's text with each secret value replaced by `"dummyClientSecret"`.
    pub masked: String,
    /// Secret values the client sent in clear (to be vaulted).
    pub secrets: DetailSecrets,
    /// Pointers where the client sent the placeholder: keep what the vault holds there.
    pub kept: Vec<String>,
    /// The settings a held token depends on (SPEC §6).
    pub token_settings: fingerprint::TokenSettings,
    /// The identity provider the vaulted values are tied to (SPEC §10).
    pub secret_binding: binding::SecretBinding,
}

/// Whether a key names a secret (SPEC §4): one rule with idp's provider-value filter.
pub use idp::secret_names::is_secret_name;

/// A key lower-cased without `_` and `-`, as secret names are compared.
fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Validates `text` as SPEC §4 describes, and its SPEC §11 switches against `catalog`
/// (`pkce`, `tokenRequestFormat`, the URL switches, `tokenLifetimeSeconds`,
/// `provider`), and masks its secret-named values.
pub fn mask(text: &str, catalog: &idp::Catalog) -> ApiResult<MaskedDetails> {
    if text.len() > MAX_DETAILS_BYTES {
        return Err(invalid(format!(
            "it is larger than {MAX_DETAILS_BYTES} bytes"
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("it is not valid JSON ({})", position(&e))))?;
    let Value::Object(object) = &value else {
        return Err(invalid("it must be a JSON object".into()));
    };
    for key in STRING_KEYS {
        if !matches!(object.get(key), None | Some(Value::Null | Value::String(_))) {
            return Err(invalid(format!("{key} must be a string")));
        }
    }
    for key in STRING_MAP_KEYS {
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) if map.values().all(Value::is_string) => {}
            Some(_) => return Err(invalid(format!("{key} must map strings to strings"))),
        }
    }
    if let Some(scheme) = object.get("refreshAuthScheme").and_then(Value::as_str)
        && !["req_body_params_auth", "basic_auth"].contains(&scheme)
    {
        return Err(invalid(
            "refreshAuthScheme must be req_body_params_auth or basic_auth".into(),
        ));
    }
    idp::validate_switches(object, catalog).map_err(|e| invalid(e.to_string()))?;
    let token_settings = fingerprint::TokenSettings::of(object);
    let secret_binding = binding::SecretBinding::of(object, catalog);

    let mut found = Vec::new();
    collect_secrets(text, text, "", &mut found).map_err(|e| invalid(e.to_string()))?;

    let mut masked = String::with_capacity(text.len());
    let mut secrets = DetailSecrets::new();
    let mut kept = Vec::new();
    let mut copied_to = 0;
    for secret in found {
        match secret.kind {
            SecretKind::Placeholder => kept.push(secret.pointer),
            SecretKind::Clear { start, end } => {
                masked.push_str(&text[copied_to..start]);
                masked.push('"');
                masked.push_str(PLACEHOLDER);
                masked.push('"');
                copied_to = end;
                secrets.insert(secret.pointer, text[start..end].to_owned());
            }
        }
    }
    masked.push_str(&text[copied_to..]);
    Ok(MaskedDetails {
        masked,
        secrets,
        kept,
        token_settings,
        secret_binding,
    })
}

/// Puts vaulted values back into a masked details string, for building IdP requests.
/// A placeholder with no vaulted value behind it (dropped by a reset or a change of
/// identity provider, SPEC §10) means "none": it becomes `null`, so it is never sent
/// as if it were the secret.
pub fn unmask(masked: &str, secrets: &DetailSecrets) -> ApiResult<Value> {
    let mut value: Value = serde_json::from_str(masked).map_err(ApiError::internal)?;
    for (pointer, raw) in secrets {
        if let Some(slot) = value.pointer_mut(pointer) {
            *slot = serde_json::from_str(raw).map_err(ApiError::internal)?;
        }
    }
    let mut put_back: Vec<&str> = secrets.keys().map(String::as_str).collect();
    put_back.sort_unstable();
    clear_placeholders(&mut value, &mut String::new(), &put_back);
    Ok(value)
}

/// Sets each secret-named member still holding the placeholder to `null`, unless its
/// pointer is in `put_back` (sorted): a vaulted value that is the placeholder text.
fn clear_placeholders(value: &mut Value, pointer: &mut String, put_back: &[&str]) {
    let len = pointer.len();
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                pointer.push('/');
                pointer.push_str(&escape_pointer(key));
                if is_secret_name(key) {
                    if member.as_str() == Some(PLACEHOLDER)
                        && put_back.binary_search(&pointer.as_str()).is_err()
                    {
                        *member = Value::Null;
                    }
                } else {
                    clear_placeholders(member, pointer, put_back);
                }
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                pointer.push('/');
                pointer.push_str(&index.to_string());
                clear_placeholders(item, pointer, put_back);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// True when `pointer` (a JSON pointer of a vaulted detail value) ends in a client
/// secret's name (`client_secret`, `clientSecret`, … — SPEC §10's Reset rule).
pub fn is_client_secret_pointer(pointer: &str) -> bool {
    let last = pointer.rsplit('/').next().unwrap_or_default();
    normalize(&last.replace("~1", "/").replace("~0", "~")) == "clientsecret"
}

fn invalid(reason: String) -> ApiError {
    ApiError::InvalidConnectorDetails(reason)
}

/// serde_json's position, without any of the input's text.
fn position(err: &serde_json::Error) -> String {
    format!("line {}, column {}", err.line(), err.column())
}

struct FoundSecret {
    pointer: String,
    kind: SecretKind,
}

enum SecretKind {
    /// The client sent the placeholder back.
    Placeholder,
    /// A real value at `text[start..end]`.
    Clear { start: usize, end: usize },
}

/// Walks `raw` (a slice of `root`) and records each secret-named value's span in `root`.
fn collect_secrets(
    root: &str,
    raw: &str,
    pointer: &str,
    found: &mut Vec<FoundSecret>,
) -> serde_json::Result<()> {
    match raw.as_bytes().first() {
        Some(b'{') => {
            let entries =
                serde_json::Deserializer::from_str(raw).deserialize_map(EntriesVisitor)?;
            for (key, value) in entries {
                let child = format!("{pointer}/{}", escape_pointer(&key));
                if is_secret_name(&key) {
                    if let Some(kind) = classify(root, value) {
                        found.push(FoundSecret {
                            pointer: child,
                            kind,
                        });
                    }
                } else {
                    collect_secrets(root, value.get(), &child, found)?;
                }
            }
        }
        Some(b'[') => {
            let items = serde_json::Deserializer::from_str(raw).deserialize_seq(ItemsVisitor)?;
            for (index, value) in items.into_iter().enumerate() {
                collect_secrets(root, value.get(), &format!("{pointer}/{index}"), found)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Decides what to do with a secret-named value: nothing for `null` and `""`, keep the
/// vaulted value for the placeholder, vault anything else (strings, numbers, objects).
fn classify(root: &str, value: &RawValue) -> Option<SecretKind> {
    let text = value.get();
    match text {
        "null" | "\"\"" => None,
        _ if serde_json::from_str::<&str>(text).is_ok_and(|s| s == PLACEHOLDER) => {
            Some(SecretKind::Placeholder)
        }
        _ => {
            // `text` borrows from `root`, so its address gives its offset in `root`.
            let start = text.as_ptr() as usize - root.as_ptr() as usize;
            Some(SecretKind::Clear {
                start,
                end: start + text.len(),
            })
        }
    }
}

/// RFC 6901 escaping of one pointer segment.
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Reads an object's entries in order, values left as raw text.
struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// Reads an array's items in order, left as raw text.
struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(text: &str) -> ApiResult<MaskedDetails> {
        super::mask(text, &idp::Catalog::shipped().unwrap())
    }

    const SAMPLE: &str = r#"{"baseURL":"https://baseURL.com","companyId":"9341452451293689","clientId":"A","authParams":{"key":"value"},"accessTokenParams":{"key":"value"}}"#;

    #[test]
    fn the_documented_sample_round_trips_unchanged() {
        let details = mask(SAMPLE).unwrap();
        assert_eq!(details.masked, SAMPLE);
        assert!(details.secrets.is_empty());
    }

    #[test]
    fn whitespace_order_and_escapes_survive_masking() {
        let text = "{ \"z\" : 1.50 ,\n \"a\":\"\\u00e9\", \"nested\": {\"client_secret\" : \"s3cr\\\"et\" } , \"list\":[{\"password\":42}] }";
        let details = mask(text).unwrap();
        assert_eq!(
            details.masked,
            "{ \"z\" : 1.50 ,\n \"a\":\"\\u00e9\", \"nested\": {\"client_secret\" : \"dummyClientSecret\" } , \"list\":[{\"password\":\"dummyClientSecret\"}] }"
        );
        assert_eq!(details.secrets["/nested/client_secret"], "\"s3cr\\\"et\"");
        assert_eq!(details.secrets["/list/0/password"], "42");
    }

    #[test]
    fn the_placeholder_is_kept_not_vaulted() {
        let details = mask(r#"{"privateKey":"dummyClientSecret"}"#).unwrap();
        assert!(details.secrets.is_empty());
        assert_eq!(details.kept, vec!["/privateKey".to_owned()]);
    }

    #[test]
    fn unmask_restores_the_original_values() {
        let text = r#"{"a":{"Client-Secret":"x"},"b":[1,{"access_token":{"deep":true}}]}"#;
        let details = mask(text).unwrap();
        let restored = unmask(&details.masked, &details.secrets).unwrap();
        assert_eq!(restored, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn a_placeholder_without_a_vaulted_value_means_none() {
        let text = r#"{"accessTokenParams":{"private_key":"dummyClientSecret","a":"dummyClientSecret"},"password":"dummyClientSecret"}"#;
        let mut secrets = DetailSecrets::new();
        secrets.insert("/password".into(), "\"kept\"".into());
        let value = unmask(text, &secrets).unwrap();
        assert_eq!(value["accessTokenParams"]["private_key"], Value::Null);
        assert_eq!(
            value["accessTokenParams"]["a"], PLACEHOLDER,
            "not a secret name"
        );
        assert_eq!(value["password"], "kept");
    }

    #[test]
    fn client_secret_pointers_are_recognised_at_any_depth() {
        for pointer in ["/client_secret", "/a/0/clientSecret", "/Client-Secret"] {
            assert!(is_client_secret_pointer(pointer), "{pointer}");
        }
        for pointer in ["/private_key", "/client_secret/x", "/password"] {
            assert!(!is_client_secret_pointer(pointer), "{pointer}");
        }
    }

    #[test]
    fn malformed_details_are_refused_with_the_code() {
        for bad in [
            "not json",
            "[]",
            "\"a string\"",
            r#"{"authParams":{"k":1}}"#,
            r#"{"accessTokenParams":"x"}"#,
            r#"{"scope":5}"#,
            r#"{"refreshAuthScheme":"digest"}"#,
            r#"{"pkce":"false"}"#,
            r#"{"tokenRequestFormat":"xml"}"#,
            r#"{"tokenLifetimeSeconds":0}"#,
            r#"{"tokenLifetimeSeconds":"3600"}"#,
            r#"{"refreshTokenURL":"not a url"}"#,
            r#"{"discoveryURL":5}"#,
            r#"{"testURL":"ftp://x.example/"}"#,
            r#"{"provider":"no-such-provider"}"#,
            r#"{"provider":true}"#,
        ] {
            assert_eq!(
                mask(bad).unwrap_err().code(),
                crate::Code::InvalidOauthConnectorDetails,
                "{bad}"
            );
        }
        let huge = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_DETAILS_BYTES));
        assert!(mask(&huge).is_err());
    }

    #[test]
    fn errors_never_quote_the_input() {
        let err = mask(r#"{"password": "hunter2"#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
