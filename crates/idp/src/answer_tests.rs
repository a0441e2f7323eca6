//! Unit tests of token-answer parsing, one per SPEC §11 rule.

use secrecy::ExposeSecret;

use super::*;
use crate::failure::FailureClass;

fn answer(status: u16, body: &str) -> Result<TokenAnswer, IdpFailure> {
    answer_with(status, &[], body, None)
}

fn answer_with(
    status: u16,
    headers: &[(&'static str, &str)],
    body: &str,
    lifetime: Option<Duration>,
) -> Result<TokenAnswer, IdpFailure> {
    let mut builder = oauth2::http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = builder.body(body.as_bytes().to_vec()).unwrap();
    parse_token_answer(&response, lifetime)
}

fn failure(result: Result<TokenAnswer, IdpFailure>) -> IdpFailure {
    match result {
        Ok(_) => panic!("expected a failure"),
        Err(failure) => failure,
    }
}

#[test]
fn a_textbook_answer_is_read_whole() {
    let token = answer(
        200,
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"a b"}"#,
    )
    .unwrap();
    assert_eq!(token.access_token.expose_secret(), "at-1");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, Some(Duration::from_secs(3600)));
    assert_eq!(token.refresh_token.unwrap().expose_secret(), "rt-1");
    assert_eq!(token.scope.as_deref(), Some("a b"));
    assert!(token.provider_values.is_empty());
}

#[test]
fn expires_in_as_a_numeric_string_is_accepted() {
    let token = answer(200, r#"{"access_token":"a","expires_in":"3599"}"#).unwrap();
    assert_eq!(token.expires_in, Some(Duration::from_secs(3599)));
    let token = answer(200, r#"{"access_token":"a","expires_in":" 60.0 "}"#).unwrap();
    assert_eq!(token.expires_in, Some(Duration::from_secs(60)));
}

#[test]
fn no_expires_in_is_unknown_unless_a_lifetime_is_configured() {
    let token = answer(200, r#"{"access_token":"a"}"#).unwrap();
    assert_eq!(token.expires_in, None);
    let lifetime = Some(Duration::from_secs(7200));
    let token = answer_with(200, &[], r#"{"access_token":"a"}"#, lifetime).unwrap();
    assert_eq!(token.expires_in, lifetime);
    // The IdP's own figure wins over the configured one.
    let token = answer_with(200, &[], r#"{"access_token":"a","expires_in":5}"#, lifetime).unwrap();
    assert_eq!(token.expires_in, Some(Duration::from_secs(5)));
}

#[test]
fn a_nonsense_expires_in_counts_as_absent_and_a_huge_one_is_capped() {
    for raw in [r#""soon""#, "-1", "null", "true"] {
        let body = format!(r#"{{"access_token":"a","expires_in":{raw}}}"#);
        assert_eq!(answer(200, &body).unwrap().expires_in, None, "{raw}");
    }
    let token = answer(200, r#"{"access_token":"a","expires_in":1e300}"#).unwrap();
    assert_eq!(
        token.expires_in,
        Some(Duration::from_secs(MAX_EXPIRES_IN_SECONDS))
    );
}

#[test]
fn token_type_is_kept_as_sent_and_defaults_to_bearer() {
    let token = answer(200, r#"{"access_token":"a","token_type":"bearer"}"#).unwrap();
    assert_eq!(token.token_type, "bearer");
    let token = answer(200, r#"{"access_token":"a","token_type":"MAC"}"#).unwrap();
    assert_eq!(token.token_type, "MAC");
    let token = answer(200, r#"{"access_token":"a"}"#).unwrap();
    assert_eq!(token.token_type, "Bearer");
    let bad = failure(answer(
        200,
        r#"{"access_token":"a","token_type":"Bearer\r\nX: y"}"#,
    ));
    assert_eq!(bad.class(), FailureClass::Transient);
}

#[test]
fn salesforce_instance_url_becomes_a_provider_value() {
    let token = answer(
        200,
        r#"{"access_token":"a","instance_url":"https://eu1.my.salesforce.com","id":"https://login/id/1","issued_at":"1700000000","signature":"planted-sig","client_secret":"planted-secret"}"#,
    )
    .unwrap();
    let values = token.provider_values;
    assert_eq!(
        values.get("instance_url").and_then(Value::as_str),
        Some("https://eu1.my.salesforce.com")
    );
    assert!(!values.to_json().contains("planted-secret"));
}

#[test]
fn an_error_member_on_http_200_is_a_failure() {
    let failed = failure(answer(
        200,
        r#"{"error":"invalid_grant","error_description":"expired"}"#,
    ));
    assert_eq!(failed.class(), FailureClass::Terminal);
    assert_eq!(failed.idp_error(), Some("invalid_grant"));
    assert_eq!(failed.description(), Some("expired"));
    assert_eq!(failed.status(), Some(200));
}

#[test]
fn refusals_are_classified() {
    let failed = failure(answer(400, r#"{"error":"invalid_client"}"#));
    assert_eq!(failed.class(), FailureClass::Terminal);
    let failed = failure(answer(400, r#"{"error":"invalid_scope"}"#));
    assert_eq!(failed.class(), FailureClass::Rejected);
    let failed = failure(answer(404, "<html>not found</html>"));
    assert_eq!(
        (failed.class(), failed.idp_error()),
        (FailureClass::Rejected, None)
    );
}

#[test]
fn server_trouble_and_throttling_are_transient_with_retry_after() {
    let failed = failure(answer_with(429, &[("retry-after", "30")], "", None));
    assert_eq!(failed.class(), FailureClass::Transient);
    assert_eq!(failed.retry_after(), Some(Duration::from_secs(30)));
    let failed = failure(answer_with(
        503,
        &[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")],
        "oops",
        None,
    ));
    assert_eq!(failed.class(), FailureClass::Transient);
    assert_eq!(failed.retry_after(), Some(Duration::ZERO));
    let failed = failure(answer(500, r#"{"error":"server_error"}"#));
    assert_eq!(
        (failed.class(), failed.idp_error()),
        (FailureClass::Transient, Some("server_error"))
    );
    assert_eq!(failed.retry_after(), None);
}

#[test]
fn an_unreadable_success_is_transient_and_never_echoes_the_body() {
    for body in [
        "",
        "not json",
        "[1]",
        r#"{"token_type":"Bearer"}"#,
        r#"{"access_token":""}"#,
        r#"{"access_token":7}"#,
    ] {
        let failed = failure(answer(200, body));
        assert_eq!(failed.class(), FailureClass::Transient, "{body}");
        assert!(
            !failed.to_string().contains(body) || body.is_empty(),
            "{body}"
        );
    }
}

#[test]
fn a_form_encoded_answer_is_accepted() {
    let token = answer(
        200,
        "access_token=at&token_type=bearer&expires_in=60&realmId=9",
    )
    .unwrap();
    assert_eq!(token.access_token.expose_secret(), "at");
    assert_eq!(token.expires_in, Some(Duration::from_secs(60)));
    assert_eq!(token.provider_values.to_json(), r#"{"realmId":"9"}"#);
    let failed = failure(answer(200, "error=bad_verification_code"));
    assert_eq!(failed.idp_error(), Some("bad_verification_code"));
}

#[test]
fn a_refresh_answer_without_refresh_token_leaves_it_to_the_caller() {
    let token = answer(200, r#"{"access_token":"a","refresh_token":""}"#).unwrap();
    assert!(token.refresh_token.is_none());
}

#[test]
fn debug_output_shows_no_token() {
    let token = answer(
        200,
        r#"{"access_token":"planted-at","refresh_token":"planted-rt"}"#,
    )
    .unwrap();
    let shown = format!("{token:?}");
    assert!(!shown.contains("planted"), "{shown}");
}
