//! The claims spaces-oauth reads from a verified JWT.

use resolver::AccountId;
use serde_json::{Map, Value};

use super::AuthError;

/// What a verified bearer token says about its holder.
#[derive(Clone, Debug)]
pub struct VerifiedClaims {
    /// The account (configured claim, else `sub`), parsed here at the edge.
    pub account_id: AccountId,
    /// The Space guids the token is limited to, when it carries a `spaces` claim.
    pub spaces: Option<Vec<String>>,
    /// OAuth-style scopes from `scope` (space-separated) or `scp` (array).
    pub scopes: Vec<String>,
    /// `exp` (Unix seconds): a WebSocket opened with the token closes then (SPEC §12).
    pub expires_at: Option<i64>,
}

impl VerifiedClaims {
    /// Reads the claims of an already verified token; an error when it names no account
    /// or one that is not a valid [`AccountId`] (e.g. longer than 255 characters).
    pub(super) fn from_map(
        claims: &Map<String, Value>,
        account_claim: &str,
    ) -> Result<Self, AuthError> {
        let account_id = [account_claim, "sub"]
            .iter()
            .find_map(|name| match claims.get(*name) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .ok_or(AuthError::Invalid("the token names no account"))?;
        let account_id = AccountId::parse(account_id).ok_or(AuthError::Invalid(
            "the token's account must be 1 to 255 characters, none a control character",
        ))?;
        let spaces = claims.get("spaces").map(strings);
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(s)), _) => s.split_whitespace().map(str::to_owned).collect(),
            (Some(other), _) | (None, Some(other)) => strings(other),
            (None, None) => Vec::new(),
        };
        let expires_at = claims.get("exp").and_then(Value::as_i64);
        Ok(Self {
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
