//! Why a token request failed, classified as SPEC §10 needs it: a terminal refusal of
//! the grant, a transient trouble worth retrying (with the IdP's `Retry-After`), or any
//! other refusal. Only the IdP's `error` code and a cleaned description are kept, never
//! its raw body, so a failure can be logged and shown.

use std::fmt;
use std::time::{Duration, SystemTime};

/// The longest `Retry-After` honoured; a longer one is cut to this, so a misbehaving
/// IdP cannot park a connection for months.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How the connection lifecycle treats a failure (SPEC §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// The IdP refused the grant itself (`invalid_grant`, `invalid_client`,
    /// `unauthorized_client`): only a new authorization helps.
    Terminal,
    /// Network, timeout, IdP 5xx or 429, an unreadable answer: retry with backoff.
    Transient,
    /// Any other IdP refusal (e.g. `invalid_scope`): the request needs fixing.
    Rejected,
}

/// A failed token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdpFailure {
    class: FailureClass,
    idp_error: Option<String>,
    description: Option<String>,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl IdpFailure {
    /// The IdP answered `error` (and maybe `error_description`); both are cleaned.
    /// The class follows the code, except that a 5xx or 429 answer is always transient.
    pub(crate) fn refused(code: &str, description: Option<&str>, status: u16) -> Self {
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        let class = if is_retryable_status(status) {
            FailureClass::Transient
        } else {
            match code.as_str() {
                "invalid_grant" | "invalid_client" | "unauthorized_client" => {
                    FailureClass::Terminal
                }
                "temporarily_unavailable" | "server_error" => FailureClass::Transient,
                _ => FailureClass::Rejected,
            }
        };
        let description = description.map(|text| {
            text.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(300)
                .collect()
        });
        Self {
            class,
            idp_error: Some(code),
            description,
            status: Some(status),
            retry_after: None,
        }
    }

    /// A failure without an IdP `error` code; `description` is our own wording.
    pub(crate) fn other(class: FailureClass, status: Option<u16>, description: String) -> Self {
        Self {
            class,
            idp_error: None,
            description: Some(description),
            status,
            retry_after: None,
        }
    }

    /// The IdP could not be reached (connection refused, DNS, TLS, reset): transient.
    /// `description` must not contain request data.
    pub fn unreachable(description: impl Into<String>) -> Self {
        Self::other(FailureClass::Transient, None, description.into())
    }

    /// The IdP did not answer within `timeout`: transient (SPEC §6 "never a hang").
    pub fn timed_out(timeout: Duration) -> Self {
        Self::unreachable(format!(
            "the identity provider did not answer within {} seconds",
            timeout.as_secs()
        ))
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// How the lifecycle treats this failure.
    pub fn class(&self) -> FailureClass {
        self.class
    }

    /// The IdP's `error` code (cleaned, at most 64 characters), when it sent one; for
    /// `extensions.idpError`.
    pub fn idp_error(&self) -> Option<&str> {
        self.idp_error.as_deref()
    }

    /// The IdP's `error_description` (cleaned, at most 300 characters) or our wording.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// How long the IdP asked us to wait (429 or 5xx with `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for IdpFailure {
    /// `code: description`, the code, or the description: safe for logs and clients.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.idp_error, &self.description) {
            (Some(code), Some(text)) if code != text => write!(f, "{code}: {text}"),
            (Some(code), _) => f.write_str(code),
            (None, Some(text)) => f.write_str(text),
            (None, None) => f.write_str("the token request failed"),
        }
    }
}

impl std::error::Error for IdpFailure {}

/// True for the statuses SPEC §10 retries: 5xx and 429.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// Reads a `Retry-After` value (RFC 9110 §10.2.3): delay seconds or an HTTP-date,
/// counted from `now`; a date in the past means "now". Capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and that is "very long".
        Duration::from_secs(value.parse().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_grant_refusals_are_terminal() {
        for code in ["invalid_grant", "invalid_client", "unauthorized_client"] {
            assert_eq!(
                IdpFailure::refused(code, None, 400).class(),
                FailureClass::Terminal
            );
        }
    }

    #[test]
    fn other_codes_are_rejected_and_server_trouble_is_transient() {
        assert_eq!(
            IdpFailure::refused("invalid_scope", None, 400).class(),
            FailureClass::Rejected
        );
        assert_eq!(
            IdpFailure::refused("temporarily_unavailable", None, 400).class(),
            FailureClass::Transient
        );
        // A 503 naming invalid_grant is still the server's trouble.
        assert_eq!(
            IdpFailure::refused("invalid_grant", None, 503).class(),
            FailureClass::Transient
        );
    }

    #[test]
    fn code_and_description_are_cleaned() {
        let long = "x".repeat(500);
        let failure = IdpFailure::refused("bad code\n\u{1b}[31m", Some(&long), 400);
        assert_eq!(failure.idp_error(), Some("badcode[31m"));
        assert_eq!(failure.description().map(str::len), Some(300));
        let failure = IdpFailure::refused("e", Some("line\nbreak"), 400);
        assert_eq!(failure.description(), Some("line break"));
        assert_eq!(failure.to_string(), "e: line break");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Wed, 02 Dec 2026 09:00:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 09:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn transport_failures_are_transient_without_a_code() {
        let failure = IdpFailure::timed_out(Duration::from_secs(10));
        assert_eq!(failure.class(), FailureClass::Transient);
        assert_eq!(failure.idp_error(), None);
        assert!(failure.to_string().contains("10 seconds"));
    }
}
