//! Runs a parsed GraphQL-over-HTTP request: batch cap, persisted queries, the
//! GET-is-for-queries rule, authentication, the per-account rate limit, execution and
//! the per-operation metrics (SPEC §1, §2, §8).

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
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
    // Root fields of the whole batch: the rate-limit cost (SPEC §13).
    let mut cost = 0usize;
    let mut registrations = Vec::new();
    for request in batch.iter_mut() {
        registrations.extend(state.persisted_queries.resolve(request)?);
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
        let Some(Classified {
            kind,
            introspection_only,
            root_field,
            root_fields,
        }) = classified
        else {
            needs_caller = true;
            cost += 1;
            continue;
        };
        let max_root_fields = state.limits.max_root_fields;
        if root_fields > max_root_fields {
            return Err(HttpError::bad_request(
                StatusCode::BAD_REQUEST,
                "query",
                format!("an operation selects at most {max_root_fields} root fields"),
            ));
        }
        cost += root_fields.max(1);
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
        // One token per root field, aliases included, charged to the account (SPEC §13).
        state
            .rate_limiter
            .check(caller.tenant().account_id(), cost)?;
        // Only now: anonymous callers must not fill the APQ store (SPEC §13).
        for registration in registrations {
            state.persisted_queries.register(registration);
        }
        // Aliased token reads and refreshes share one lease wait (SPEC §13).
        batch = batch
            .data(caller)
            .data(resolver::tokens::lease_wait::LeaseWaitBudget::default());
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

/// What the handler needs to know of an operation before running it.
struct Classified {
    kind: Option<OperationType>,
    /// Only `__schema`/`__type`/`__typename`: no authentication needed.
    introspection_only: bool,
    /// The metric label of its first root field.
    root_field: &'static str,
    /// Its root fields, aliases and those inside fragments included.
    root_fields: usize,
}

/// Classifies the selected operation of `document`.
fn classify(document: &ExecutableDocument, name: Option<&str>) -> Classified {
    let operation = match name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return Classified {
            kind: None,
            introspection_only: false,
            root_field: labels::UNKNOWN,
            root_fields: 1,
        };
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
    Classified {
        kind: Some(operation.node.ty),
        introspection_only,
        root_field,
        root_fields: count_fields(document, &operation.node.selection_set.node, 0),
    }
}

/// Fields of `set`, looking into fragments (to a bounded depth: a fragment cycle is
/// refused by validation later, but must not loop here first).
fn count_fields(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> usize {
    if depth > 8 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                count_fields(document, &fragment.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    count_fields(document, &f.node.selection_set.node, depth + 1)
                }),
        })
        .fold(0, usize::saturating_add)
}
