//! HTTP-level failures (auth, headers, body) in the same GraphQL-shaped envelope as
//! resolver errors: `{"errors":[{"message", "extensions":{"code", "requestId"}}]}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use resolver::Code;
use serde_json::json;

use crate::auth::AuthError;

/// A request refused before any GraphQL ran.
#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub field: Option<&'static str>,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<u32>,
    /// The methods a 405 names in `Allow` (RFC 9110 requires the header).
    pub allow: Option<&'static str>,
}

impl HttpError {
    /// A refusal with `status`, a SPEC §7 `code` and a fixed `message`.
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            www_authenticate: None,
            retry_after: None,
            allow: None,
        }
    }

    /// A malformed request (body, method, batch), naming the part at fault.
    pub fn bad_request(
        status: StatusCode,
        field: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: Some(field),
            ..Self::new(status, Code::InvalidInput, message)
        }
    }

    /// The response, its error tagged with the request's id.
    pub fn into_response_for(self, request_id: &str) -> Response {
        self.render(Some(request_id))
    }

    fn render(self, request_id: Option<&str>) -> Response {
        let mut extensions = json!({ "code": self.code.as_str() });
        if let Some(field) = self.field {
            extensions["field"] = json!(field);
        }
        if let Some(id) = request_id {
            extensions["requestId"] = json!(id);
        }
        let body = json!({ "errors": [{ "message": self.message, "extensions": extensions }] });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(methods) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(methods));
        }
        response
    }
}

impl From<AuthError> for HttpError {
    fn from(err: AuthError) -> Self {
        let (status, challenge) = match &err {
            AuthError::Missing => (
                StatusCode::UNAUTHORIZED,
                r#"Bearer realm="spaces-oauth""#.to_owned(),
            ),
            AuthError::Forbidden => (
                StatusCode::FORBIDDEN,
                r#"Bearer realm="spaces-oauth", error="insufficient_scope""#.to_owned(),
            ),
            _ => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer realm="spaces-oauth", error="invalid_token", error_description="{err}""#
                ),
            ),
        };
        Self {
            www_authenticate: Some(challenge),
            ..Self::new(status, err.code(), err.to_string())
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.render(None)
    }
}
