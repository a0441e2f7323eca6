//! `POST /graphql` and `GET /graphql` (SPEC §1): GraphQL over HTTP with the headers of
//! SPEC §2 checked before anything is read or written.

mod apq;
mod execute;
mod labels;
mod nesting;
mod parse_cache;
mod render;

use std::net::SocketAddr;
use std::time::Instant;

use async_graphql::{BatchRequest, Request, Variables};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response as HttpResponse;
use serde::Deserialize;

pub use apq::PersistedQueries;
use execute::{Observed, execute};
pub use parse_cache::ParsedQueries;

use super::error::HttpError;
use super::graphiql;
use super::metrics;
use super::request_id::RequestId;
use crate::listen::ClientAddr;
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
        let mut json = false;
        for media_type in accept
            .split(',')
            .map(|part| part.split(';').next().unwrap_or_default().trim())
        {
            if media_type.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) {
                return Some(Self::GraphqlResponseJson);
            }
            json |= [JSON, "application/*", "*/*"]
                .iter()
                .any(|t| media_type.eq_ignore_ascii_case(t));
        }
        json.then_some(Self::Json)
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
    let started = Instant::now();
    let mut observed = Observed {
        operation: labels::UNKNOWN,
    };
    let result = async {
        let format = Format::negotiate(&headers).ok_or_else(not_acceptable)?;
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case(JSON) {
            return Err(HttpError::bad_request(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type",
                "POST /graphql takes Content-Type: application/json",
            ));
        }
        let body = body.map_err(|rejection| {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is too large"
            } else {
                "the request body could not be read"
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
        let method = Method::POST;
        execute(
            &state,
            &request_id,
            &headers,
            batch,
            method,
            format,
            &mut observed,
        )
        .await
    }
    .await;
    finish(result, &observed, started, &request_id)
}

/// The parameters of `GET /graphql` (GraphQL over HTTP: `variables` and `extensions`
/// are JSON-encoded strings).
#[derive(Deserialize)]
struct GetParams {
    #[serde(default)]
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// `GET /graphql`: queries from the query string, or GraphiQL for a browser.
pub async fn get(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    uri: Uri,
) -> HttpResponse {
    let query = uri.query().unwrap_or_default();
    if wants_html(&headers) && !query.split('&').any(|pair| pair.starts_with("query=")) {
        let client = client.map(|Extension(ConnectInfo(addr))| addr);
        return graphiql_page(&state, &headers, client);
    }
    let started = Instant::now();
    let mut observed = Observed {
        operation: labels::UNKNOWN,
    };
    let result = async {
        let format = Format::negotiate(&headers).ok_or_else(not_acceptable)?;
        let request = parse_query_string(&uri)?;
        let batch = BatchRequest::Single(request);
        execute(
            &state,
            &request_id,
            &headers,
            batch,
            Method::GET,
            format,
            &mut observed,
        )
        .await
    }
    .await;
    finish(result, &observed, started, &request_id)
}

fn parse_query_string(uri: &Uri) -> Result<Request, HttpError> {
    let invalid = |what: &str| {
        HttpError::bad_request(
            StatusCode::BAD_REQUEST,
            "query",
            format!("the query string is not a GraphQL request: {what}"),
        )
    };
    let Query(params) =
        Query::<GetParams>::try_from_uri(uri).map_err(|_| invalid("malformed parameters"))?;
    let mut request = Request::new(params.query);
    request.operation_name = params.operation_name;
    if let Some(variables) = params.variables {
        let variables: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&variables)
                .map_err(|_| invalid("variables is not a JSON object"))?;
        request.variables = Variables::from_json(serde_json::Value::Object(variables));
    }
    if let Some(extensions) = params.extensions {
        request.extensions = serde_json::from_str(&extensions)
            .map_err(|_| invalid("extensions is not a JSON object"))?;
    }
    Ok(request)
}

/// Answers `result`, recording a refusal's code in the metrics (executed operations
/// are recorded by `execute`) and the request's latency.
fn finish(
    result: Result<HttpResponse, HttpError>,
    observed: &Observed,
    started: Instant,
    request_id: &RequestId,
) -> HttpResponse {
    metrics::record_graphql_latency(observed.operation, started.elapsed());
    result.unwrap_or_else(|err| {
        metrics::record_operation(observed.operation, err.code.as_str());
        err.into_response_for(&request_id.0)
    })
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

/// GraphiQL, with the dev token pre-filled only for a client on this machine
/// (a dev token is a working credential).
fn graphiql_page(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<SocketAddr>,
) -> HttpResponse {
    let forwarded =
        headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-for");
    let (space, authorization) = match state
        .dev_tokens
        .as_ref()
        .filter(|_| crate::devmode::may_prefill_token(client, forwarded))
        .and_then(|d| d.graphiql_token().ok())
    {
        Some(token) => (
            crate::devmode::DEV_SPACE.to_owned(),
            format!("Bearer {token}"),
        ),
        None => ("<your Space guid>".to_owned(), "Bearer <token>".to_owned()),
    };
    graphiql::page(&space, &authorization, graphiql::host(headers))
}
