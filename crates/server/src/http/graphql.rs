//! `POST /graphql` and `GET /graphql` (SPEC §1): GraphQL over HTTP with the headers of
//! SPEC §2 checked before anything is read or written.

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{BatchRequest, BatchResponse, Response};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response as HttpResponse};
use serde_json::Value;

use super::auth::authenticate;
use super::error::HttpError;
use super::graphiql;
use super::request_id::RequestId;
use crate::state::AppState;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type a response is written in, from the request's `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    GraphqlResponseJson,
}

impl Format {
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Some(Self::Json);
        };
        let types: Vec<&str> = accept
            .split(',')
            .map(|part| part.split(';').next().unwrap_or_default().trim())
            .collect();
        if types.contains(&GRAPHQL_RESPONSE_JSON) {
            Some(Self::GraphqlResponseJson)
        } else if types
            .iter()
            .any(|t| [JSON, "application/*", "*/*"].contains(t))
        {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// `POST /graphql`: a JSON body holding one request or a batch.
pub async fn post(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let result = async {
        let format = Format::negotiate(&headers).ok_or_else(not_acceptable)?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_type.split(';').next().map(str::trim) != Some(JSON) {
            return Err(HttpError::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                "POST /graphql takes Content-Type: application/json",
            ));
        }
        let body = body.map_err(|rejection| {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is too large".to_owned()
            } else {
                "the request body could not be read".to_owned()
            };
            HttpError::bad_request(status, "body", message)
        })?;
        let batch: BatchRequest = serde_json::from_slice(&body).map_err(|_| {
            HttpError::bad_request(
                StatusCode::BAD_REQUEST,
                "body",
                "the body is not a GraphQL request in JSON",
            )
        })?;
        execute(&state, &request_id, &headers, batch, Method::POST, format).await
    }
    .await;
    result.unwrap_or_else(|err| err.into_response_for(&request_id.0))
}

/// `GET /graphql`: queries from the query string, or GraphiQL for a browser.
pub async fn get(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> HttpResponse {
    let query = query.unwrap_or_default();
    if wants_html(&headers) && !query.split('&').any(|pair| pair.starts_with("query=")) {
        return graphiql_page(&state).into_response();
    }
    let result = async {
        let format = Format::negotiate(&headers).ok_or_else(not_acceptable)?;
        let request = async_graphql::http::parse_query_string(&query).map_err(|_| {
            HttpError::bad_request(
                StatusCode::BAD_REQUEST,
                "query",
                "the query string is not a GraphQL request",
            )
        })?;
        execute(
            &state,
            &request_id,
            &headers,
            BatchRequest::Single(request),
            Method::GET,
            format,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|err| err.into_response_for(&request_id.0))
}

async fn execute(
    state: &AppState,
    request_id: &RequestId,
    headers: &HeaderMap,
    mut batch: BatchRequest,
    method: Method,
    format: Format,
) -> Result<HttpResponse, HttpError> {
    let max = state.limits.max_batch_operations;
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > max
    {
        return Err(HttpError::bad_request(
            StatusCode::BAD_REQUEST,
            "batch",
            format!("a batch holds at most {max} operations"),
        ));
    }
    let mut needs_caller = false;
    for request in batch.iter_mut() {
        let operation_name = request.operation_name.clone();
        // Unparseable documents are answered by the executor, after authentication.
        let Ok(document) = request.parsed_query() else {
            needs_caller = true;
            continue;
        };
        let (kind, introspection_only) = classify(document, operation_name.as_deref());
        if method == Method::GET && kind == Some(OperationType::Mutation) {
            return Err(HttpError::bad_request(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                "mutations are only accepted over POST",
            ));
        }
        needs_caller |= !introspection_only;
    }
    if needs_caller {
        let caller = authenticate(&state.verifier, headers).await?;
        batch = batch.data(caller);
    }
    batch = batch.data(resolver::RequestId(request_id.0.clone()));
    let response = state.schema.execute_batch(batch).await;
    Ok(render(response, format, &request_id.0))
}

/// The selected operation's type, and whether it only introspects (no auth needed).
fn classify(document: &ExecutableDocument, name: Option<&str>) -> (Option<OperationType>, bool) {
    let operation = match name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return (None, false);
    };
    let introspection_only = operation.node.ty == OperationType::Query
        && operation.node.selection_set.node.items.iter().all(|item| {
            matches!(&item.node, Selection::Field(field)
                if ["__schema", "__type", "__typename"].contains(&field.node.name.node.as_str()))
        });
    (Some(operation.node.ty), introspection_only)
}

fn render(response: BatchResponse, format: Format, request_id: &str) -> HttpResponse {
    let (status, body) = match response {
        BatchResponse::Single(response) => {
            let request_error = is_request_error(&response);
            let status = if request_error && format == Format::GraphqlResponseJson {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            (status, response_json(response, request_error, request_id))
        }
        BatchResponse::Batch(responses) => {
            let items = responses
                .into_iter()
                .map(|r| {
                    let request_error = is_request_error(&r);
                    response_json(r, request_error, request_id)
                })
                .collect();
            (StatusCode::OK, Value::Array(items))
        }
    };
    let mut http = (status, axum::Json(body)).into_response();
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    http
}

/// A request error (parse, validation, limits) happened before execution: no field
/// error has a path and there is no data.
fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

fn response_json(response: Response, omit_data: bool, request_id: &str) -> Value {
    let mut json = serde_json::to_value(&response).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut json {
        if omit_data {
            map.remove("data");
        }
        if let Some(Value::Array(errors)) = map.get_mut("errors") {
            for error in errors.iter_mut().filter_map(Value::as_object_mut) {
                let extensions = error
                    .entry("extensions")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Value::Object(ext) = extensions {
                    // Only request errors (parse, validation, variables, limits) come
                    // without a code: every resolver error sets one (SPEC §7).
                    ext.entry("code")
                        .or_insert_with(|| Value::String("INVALID_INPUT".into()));
                    ext.insert("requestId".into(), Value::String(request_id.to_owned()));
                }
            }
        }
    }
    json
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn not_acceptable() -> HttpError {
    HttpError::bad_request(
        StatusCode::NOT_ACCEPTABLE,
        "Accept",
        "responses are application/json or application/graphql-response+json",
    )
}

fn graphiql_page(state: &AppState) -> Html<String> {
    let (space, authorization) = match state
        .dev_tokens
        .as_ref()
        .and_then(|d| d.graphiql_token().ok())
    {
        Some(token) => (
            crate::devmode::DEV_SPACE.to_owned(),
            format!("Bearer {token}"),
        ),
        None => ("<your Space guid>".to_owned(), "Bearer <token>".to_owned()),
    };
    Html(graphiql::page(&space, &authorization))
}
