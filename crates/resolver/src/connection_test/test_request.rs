//! The `testRequest` step (SPEC §12): `GET testURL` with the connection's token, sent
//! through the IdP client, so the outbound guards of token calls apply (scheme and
//! host policy, addresses checked again when the name resolves, no redirects, the time
//! limit and the response cap).

use oauth2::http::{HeaderValue, Method, Request, header};
use oauth2::url::Url;
use secrecy::{ExposeSecret, SecretString};

use super::types::StepFailure;
use crate::code::Code;
use crate::tokens::http::{IdpClient, TransportError};

/// Calls `test_url` with `Authorization: <token_type> <access_token>`; ok on 2xx.
/// Any spelling of `bearer` is sent as `Bearer`.
/// Returns what to show of a success (the status).
pub async fn call(
    idp: &IdpClient,
    test_url: &str,
    token_type: &str,
    access_token: &SecretString,
) -> Result<String, StepFailure> {
    let failed = |message: String| StepFailure::new(Code::TestRequestFailed, message);
    let url = Url::parse(test_url).map_err(|_| failed("testURL is not a valid URL".into()))?;
    // The type as the IdP sent it, except that any spelling of `bearer` is sent as
    // RFC 6750 writes it: some APIs compare the scheme case-sensitively.
    let scheme = if token_type.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else {
        token_type
    };
    let mut authorization =
        HeaderValue::from_str(&format!("{scheme} {}", access_token.expose_secret()))
            .map_err(|_| failed("the token cannot be sent in an Authorization header".into()))?;
    // Kept out of any `Debug` output of the request.
    authorization.set_sensitive(true);
    let request = Request::builder()
        .method(Method::GET)
        .uri(url.as_str())
        .header(header::AUTHORIZATION, authorization)
        .header(header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| failed("the test request could not be built".into()))?;
    let response = idp.send(request).await.map_err(|e| failed(describe(&e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("testURL answered HTTP {}", status.as_u16()))
    } else {
        Err(failed(format!("testURL answered HTTP {}", status.as_u16())))
    }
}

/// The message of a test request that got no answer (the transport's own texts speak
/// of the identity provider).
fn describe(error: &TransportError) -> String {
    match error {
        TransportError::Refused(reason) => format!("testURL was not called: {reason}"),
        TransportError::Timeout(seconds) => {
            format!("testURL did not answer within {seconds} seconds")
        }
        TransportError::Unreachable(error) => {
            // The innermost cause says why (refused connection, or a name that resolves
            // only to addresses the policy refuses); the outer ones repeat the URL.
            let mut cause: &dyn std::error::Error = error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            format!("testURL could not be reached: {cause}")
        }
        TransportError::TooLarge(max) => format!("testURL's answer is larger than {max} bytes"),
        TransportError::Redirect => {
            "testURL answered with a redirect, which is not followed".into()
        }
        TransportError::Build => "the test request could not be built".into(),
    }
}
