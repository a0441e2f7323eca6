//! Reading a token endpoint's answer as providers really send it (SPEC §11): from the
//! HTTP status, the headers and the body to a [`TokenAnswer`] or an [`IdpFailure`].
//! Used for every grant, the RFC 7523 request included.

use std::time::{Duration, SystemTime};

use oauth2::HttpResponse;
use oauth2::http::{HeaderMap, StatusCode, header};
use oauth2::url::form_urlencoded;
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::failure::{FailureClass, IdpFailure, is_retryable_status, parse_retry_after};
use crate::values::ProviderValues;

/// The longest expiry believed, in seconds (ten years); a larger `expires_in` is cut to
/// it so that later date arithmetic cannot overflow.
pub const MAX_EXPIRES_IN_SECONDS: u64 = 10 * 365 * 24 * 60 * 60;

/// A token as the IdP issued it. `Debug` shows no secret (`secrecy`).
#[derive(Debug)]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: SecretString,
    /// `token_type` as sent (any case); `Bearer` when the IdP sent none.
    pub token_type: String,
    /// From `expires_in` (number or numeric string), else the configured lifetime,
    /// else unknown.
    pub expires_in: Option<Duration>,
    /// The refresh token, when one was issued. A refresh answer without one means
    /// "keep the held one" (SPEC §11); the caller decides.
    pub refresh_token: Option<SecretString>,
    /// `scope` as sent.
    pub scope: Option<String>,
    /// The answer's other scalar, non-secret members.
    pub provider_values: ProviderValues,
}

/// Parses a token endpoint's HTTP answer. `lifetime` is the details'
/// `tokenLifetimeSeconds` (or the catalog's), used when the answer has no `expires_in`.
pub fn parse_token_answer(
    response: &HttpResponse,
    lifetime: Option<Duration>,
) -> Result<TokenAnswer, IdpFailure> {
    parse_token_parts(
        response.status(),
        response.headers(),
        response.body(),
        lifetime,
    )
}

/// [`parse_token_answer`] from the parts of an answer.
pub fn parse_token_parts(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    lifetime: Option<Duration>,
) -> Result<TokenAnswer, IdpFailure> {
    let code = status.as_u16();
    let retry_after = || {
        headers
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()))
    };
    let members = read_members(body);
    // An `error` member is a failure whatever the status, 200 included (SPEC §11).
    if let Some(error) = members.as_ref().and_then(|m| text(m, "error")) {
        let description = members.as_ref().and_then(|m| text(m, "error_description"));
        return Err(IdpFailure::refused(error, description, code).with_retry_after(retry_after()));
    }
    if is_retryable_status(code) {
        return Err(IdpFailure::other(
            FailureClass::Transient,
            Some(code),
            format!("the identity provider answered HTTP {code}"),
        )
        .with_retry_after(retry_after()));
    }
    if status.is_client_error() {
        // A refusal without a readable reason: retrying will not change it.
        return Err(IdpFailure::other(
            FailureClass::Rejected,
            Some(code),
            format!("the identity provider answered HTTP {code}"),
        ));
    }
    let unreadable = || {
        IdpFailure::other(
            FailureClass::Transient,
            Some(code),
            "the identity provider's answer is not a valid token response".into(),
        )
    };
    if !status.is_success() {
        return Err(unreadable());
    }
    let members = members.ok_or_else(unreadable)?;
    let access_token = text(&members, "access_token").ok_or_else(unreadable)?;
    let token_type = match text(&members, "token_type") {
        None => "Bearer".to_owned(),
        // It goes into an Authorization header later: visible ASCII only.
        Some(t) if t.len() <= 64 && t.bytes().all(|b| b.is_ascii_graphic()) => t.to_owned(),
        Some(_) => return Err(unreadable()),
    };
    Ok(TokenAnswer {
        access_token: SecretString::from(access_token.to_owned()),
        token_type,
        expires_in: members.get("expires_in").and_then(seconds).or(lifetime),
        refresh_token: text(&members, "refresh_token").map(|t| SecretString::from(t.to_owned())),
        scope: text(&members, "scope").map(str::to_owned),
        provider_values: ProviderValues::from_token_response(&members),
    })
}

/// The body as members: a JSON object, or (some older IdPs) a form-encoded body.
fn read_members(body: &[u8]) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(map)) = serde_json::from_slice(body) {
        return Some(map);
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() || text.starts_with(['{', '[', '<']) || !text.contains('=') {
        return None;
    }
    let map: Map<String, Value> = form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    (map.contains_key("access_token") || map.contains_key("error")).then_some(map)
}

/// A non-empty string member.
fn text<'m>(members: &'m Map<String, Value>, name: &str) -> Option<&'m str> {
    members
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// `expires_in` as a non-negative number or numeric string; anything else is unknown.
fn seconds(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        })?,
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })?
        }
        _ => return None,
    };
    Some(Duration::from_secs(secs.min(MAX_EXPIRES_IN_SECONDS)))
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
