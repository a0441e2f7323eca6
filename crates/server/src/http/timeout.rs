//! The request time limit (SPEC §8): a request still unanswered after
//! `REQUEST_TIMEOUT_SECONDS` (reading a trickled body included) is abandoned and answered
//! 503 in the GraphQL error envelope. Dropping the handler rolls back any open
//! transaction, so no half-written record is left.

use resolver::Code;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::error::HttpError;
use super::request_id::RequestId;

/// Middleware: runs the rest of the stack under `limit`.
pub async fn limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().cloned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                limit_seconds = limit.as_secs(),
                "request abandoned after the time limit"
            );
            let error = HttpError {
                retry_after: Some(1),
                ..HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Code::GenericSystemError,
                    format!("the request took longer than {} s", limit.as_secs()),
                )
            };
            match request_id {
                Some(id) => error.into_response_for(&id.0),
                None => axum::response::IntoResponse::into_response(error),
            }
        }
    }
}
