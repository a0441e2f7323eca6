//! The claims spaces-oauth reads from a verified JWT.

use serde_json::{Map, Value};

/// What a verified bearer token says about its holder.
#[derive(Clone, Debug)]
pub struct VerifiedClaims {
    /// The account (configured claim, else `sub`).
    pub account_id: String,
    /// The Space guids the token is limited to, when it carries a `spaces` claim.
    pub spaces: Option<Vec<String>>,
    /// OAuth-style scopes from `scope` (space-separated) or `scp` (array).
    pub scopes: Vec<String>,
    /// `exp` (Unix seconds): a WebSocket opened with the token closes then (SPEC §12).
    pub expires_at: Option<i64>,
}

impl VerifiedClaims {
    /// Reads the claims of an already verified token; `None` when no account is named.
    pub(super) fn from_map(claims: &Map<String, Value>, account_claim: &str) -> Option<Self> {
        let account_id =
            [account_claim, "sub"]
                .iter()
                .find_map(|name| match claims.get(*name) {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                })?;
        let spaces = claims.get("spaces").map(strings);
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
            (Some(other), _) | (None, Some(other)) => strings(other),
            (None, None) => Vec::new(),
        };
        let expires_at = claims.get("exp").and_then(Value::as_i64);
        Some(Self {
            account_id,
            spaces,
            scopes,
            expires_at,
        })
    }

    /// True when the token may act in `space_guid`.
    pub fn allows_space(&self, space_guid: &str) -> bool {
        self.spaces
            .as_ref()
            .is_none_or(|spaces| spaces.iter().any(|s| s == space_guid))
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}
