//! Tests of the capture adapter with the real `oauth2` request builders.

use std::sync::{Arc, Mutex};

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, Scope, TokenUrl};
use secrecy::ExposeSecret;

use super::*;
use crate::failure::FailureClass;

type Seen = Arc<Mutex<Option<HttpRequest>>>;

/// A transport that records the request and answers `status` with `body`.
fn transport(
    seen: Seen,
    status: u16,
    body: &'static str,
) -> impl Fn(HttpRequest) -> Pin<Box<dyn Future<Output = Result<HttpResponse, std::io::Error>> + Send>>
+ Sync {
    move |request| {
        let seen = Arc::clone(&seen);
        Box::pin(async move {
            *seen.lock().unwrap() = Some(request);
            Ok(oauth2::http::Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(body.as_bytes().to_vec())
                .unwrap())
        })
    }
}

fn client(
    auth: AuthType,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new("cid".into()))
        .set_client_secret(ClientSecret::new("planted-cs".into()))
        .set_token_uri(TokenUrl::new("https://idp.example/token".into()).unwrap())
        .set_auth_type(auth)
}

#[tokio::test]
async fn an_answer_the_crate_would_refuse_reaches_our_parser() {
    let seen = Seen::default();
    // text/plain and a string expires_in: oauth2's own parser rejects both.
    let send = transport(
        Arc::clone(&seen),
        200,
        r#"{"access_token":"at","expires_in":"60"}"#,
    );
    let result = client(AuthType::RequestBody)
        .exchange_client_credentials()
        .add_scope(Scope::new("api".into()))
        .request_async(&Capture::new(send, TokenRequestFormat::Form))
        .await;
    let Exchange::Answer(response) = finish(result) else {
        panic!("expected the raw answer");
    };
    let token = crate::parse_token_answer(&response, None).unwrap();
    assert_eq!(token.access_token.expose_secret(), "at");
    let request = seen.lock().unwrap().take().unwrap();
    let body = String::from_utf8(request.body().clone()).unwrap();
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    assert!(body.contains("scope=api"), "{body}");
}

#[tokio::test]
async fn a_refusal_with_status_and_retry_after_is_kept_for_classification() {
    let seen = Seen::default();
    let send = transport(seen, 400, r#"{"error":"invalid_grant"}"#);
    let result = client(AuthType::RequestBody)
        .exchange_refresh_token(&RefreshToken::new("rt".into()))
        .request_async(&Capture::new(send, TokenRequestFormat::Form))
        .await;
    let Exchange::Answer(response) = finish(result) else {
        panic!("expected the raw answer");
    };
    let failure = crate::parse_token_answer(&response, None).unwrap_err();
    assert_eq!(failure.class(), FailureClass::Terminal);
}

#[tokio::test]
async fn json_format_sends_the_same_parameters_as_a_json_object() {
    let seen = Seen::default();
    let send = transport(Arc::clone(&seen), 200, r#"{"access_token":"at"}"#);
    let result = client(AuthType::BasicAuth)
        .exchange_refresh_token(&RefreshToken::new("r t&1".into()))
        .request_async(&Capture::new(send, TokenRequestFormat::Json))
        .await;
    assert!(matches!(finish(result), Exchange::Answer(_)));
    let request = seen.lock().unwrap().take().unwrap();
    assert_eq!(request.headers()["content-type"], "application/json");
    assert!(request.headers().contains_key("authorization"));
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "r t&1");
    assert!(body.get("client_secret").is_none());
}

#[tokio::test]
async fn a_transport_failure_comes_back_as_such() {
    let send = |_request: HttpRequest| async {
        Err::<HttpResponse, _>(std::io::Error::other("connection refused"))
    };
    let result = client(AuthType::RequestBody)
        .exchange_client_credentials()
        .request_async(&Capture::new(send, TokenRequestFormat::Form))
        .await;
    match finish(result) {
        Exchange::Transport(err) => assert_eq!(err.to_string(), "connection refused"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn exchange_debug_never_shows_the_answer_body() {
    let response = oauth2::http::Response::builder()
        .status(200)
        .body(b"{\"access_token\":\"planted\"}".to_vec())
        .unwrap();
    let shown = format!("{:?}", Exchange::<std::io::Error>::Answer(response));
    assert_eq!(shown, "Exchange(answered HTTP 200)");
}
