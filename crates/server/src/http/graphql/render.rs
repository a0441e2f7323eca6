//! Writes GraphQL responses as the GraphQL-over-HTTP spec says (SPEC §1, §7): status
//! 400 for request errors under `application/graphql-response+json` (without `data`),
//! 503 when the database is unavailable, the request id in every error, no caching.
//! Serialized straight to bytes: no intermediate JSON tree on the hot path.

use resolver::Code;
use std::collections::BTreeMap;

use async_graphql::{BatchResponse, Response, ServerError, Value};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde::Serialize;

use super::Format;
use super::labels;

/// The body of one response; `data` is left out for request errors.
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

/// The HTTP response for an executed single request or batch.
pub(super) fn render(response: BatchResponse, format: Format, request_id: &str) -> HttpResponse {
    let (status, json) = match response {
        BatchResponse::Single(mut response) => {
            tag_errors(&mut response, request_id);
            let request_error = is_request_error(&response);
            let status = if database_unavailable(&response) {
                StatusCode::SERVICE_UNAVAILABLE
            } else if request_error && format == Format::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, serde_json::to_vec(&body(&response, request_error)))
        }
        BatchResponse::Batch(mut responses) => {
            responses.iter_mut().for_each(|r| tag_errors(r, request_id));
            let status = if responses.iter().any(database_unavailable) {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            let bodies: Vec<Payload<'_>> = responses
                .iter()
                .map(|r| body(r, is_request_error(r)))
                .collect();
            (status, serde_json::to_vec(&bodies))
        }
    };
    let Ok(json) = json else {
        // Serializing values the executor produced cannot fail; answer honestly if it does.
        tracing::error!("cannot serialize a GraphQL response");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut http = (status, Body::from(json)).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    http
}

/// The metric outcome of one executed request: `ok`, its first error's code, or
/// `invalid_request` for a parse/validation failure.
pub(super) fn outcome(response: &Response) -> &'static str {
    match response.errors.first() {
        None => "ok",
        Some(error) => match error_code(error) {
            Some(code) => labels::outcome(code),
            None if is_request_error(response) => "invalid_request",
            None => "error",
        },
    }
}

fn body(response: &Response, omit_data: bool) -> Payload<'_> {
    Payload {
        data: (!omit_data).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    }
}

/// A request error (parse, validation, limits) happened before execution: no field
/// error has a path and there is no data.
fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn database_unavailable(response: &Response) -> bool {
    response
        .errors
        .iter()
        .any(|e| error_code(e) == Some(Code::DatabaseUnavailable.as_str()))
}

fn error_code(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => Some(code),
        _ => None,
    }
}

/// Every error carries a code and the request id, so a user can quote it to an
/// operator (SPEC §7).
fn tag_errors(response: &mut Response, request_id: &str) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        // Only request errors (parse, validation, variables, limits) come without a
        // code: every resolver error sets one.
        if extensions.get("code").is_none() {
            extensions.set("code", Code::InvalidInput.as_str());
        }
        extensions.set("requestId", request_id);
    }
}
