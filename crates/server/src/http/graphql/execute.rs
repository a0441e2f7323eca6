//! Runs a parsed GraphQL-over-HTTP request: batch cap, persisted queries, the
//! GET-is-for-queries rule, authentication, the per-account rate limit, execution and
//! the per-operation metrics (SPEC §1, §2, §8).

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{BatchRequest, BatchResponse};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response as HttpResponse;

use super::{Format, labels, nesting, render};
use crate::http::auth::authenticate;
use crate::http::error::HttpError;
use crate::http::metrics;
use crate::http::request_id::RequestId;
use crate::state::AppState;

/// What the handler learnt about the request, for its metrics.
pub(super) struct Observed {
    /// The root field of the (first) operation, `batch`, or `unknown`.
    pub operation: &'static str,
}

/// Executes `batch` for the caller named by `headers`.
pub(super) async fn execute(
    state: &AppState,
    request_id: &RequestId,
    headers: &HeaderMap,
    mut batch: BatchRequest,
    method: Method,
    format: Format,
    observed: &mut Observed,
) -> Result<HttpResponse, HttpError> {
    let max = state.limits.max_batch_operations;
    let count = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(requests) => requests.len(),
    };
    if count > max {
        return Err(HttpError::bad_request(
            StatusCode::BAD_REQUEST,
            "batch",
            format!("a batch holds at most {max} operations"),
        ));
    }
    if count > 1 {
        observed.operation = "batch";
    }
    let mut needs_caller = false;
    for request in batch.iter_mut() {
        state.persisted_queries.resolve(request)?;
        // Not a GraphQL-over-HTTP request at all: 400 whatever the media type.
        if request.query.trim().is_empty() {
            return Err(HttpError::bad_request(
                StatusCode::BAD_REQUEST,
                "query",
                "a GraphQL request needs a query",
            ));
        }
        if nesting::depth_exceeds(&request.query, nesting::MAX_NESTING) {
            return Err(HttpError::bad_request(
                StatusCode::BAD_REQUEST,
                "query",
                format!("the document nests deeper than {}", nesting::MAX_NESTING),
            ));
        }
        state.parsed_queries.parse(request);
        // Taken out and put back so the name can be read while the document is borrowed.
        let operation_name = request.operation_name.take();
        let classified = request
            .parsed_query()
            .ok()
            .map(|document| classify(document, operation_name.as_deref()));
        request.operation_name = operation_name;
        // Unparseable documents are answered by the executor, after authentication.
        let Some((kind, introspection_only, root_field)) = classified else {
            needs_caller = true;
            continue;
        };
        if count == 1 {
            observed.operation = root_field;
        }
        if method == Method::GET && kind == Some(OperationType::Mutation) {
            return Err(HttpError {
                allow: Some("POST"),
                ..HttpError::bad_request(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method",
                    "mutations are only accepted over POST",
                )
            });
        }
        needs_caller |= !introspection_only;
    }
    if needs_caller {
        let caller = authenticate(&state.verifier, headers).await?;
        // One token per operation, charged to the account (SPEC §8).
        state
            .rate_limiter
            .check(caller.tenant().account_id(), count)?;
        batch = batch.data(caller);
    }
    let response = state.schema.execute_batch(batch).await;
    match &response {
        BatchResponse::Single(r) => {
            metrics::record_operation(observed.operation, render::outcome(r))
        }
        BatchResponse::Batch(responses) => {
            for r in responses {
                metrics::record_operation("batch", render::outcome(r));
            }
        }
    }
    Ok(render::render(response, format, &request_id.0))
}

/// The selected operation's type, whether it only introspects (no auth needed), and
/// the metric label of its first root field.
fn classify(
    document: &ExecutableDocument,
    name: Option<&str>,
) -> (Option<OperationType>, bool, &'static str) {
    let operation = match name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return (None, false, labels::UNKNOWN);
    };
    let items = &operation.node.selection_set.node.items;
    let introspection_only = operation.node.ty == OperationType::Query
        && items.iter().all(|item| {
            matches!(&item.node, Selection::Field(field)
                if ["__schema", "__type", "__typename"].contains(&field.node.name.node.as_str()))
        });
    let root_field = items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(labels::operation(field.node.name.node.as_str())),
            _ => None,
        })
        .unwrap_or(labels::UNKNOWN);
    (Some(operation.node.ty), introspection_only, root_field)
}
