//! Prometheus metrics (SPEC §1 `GET /metrics`): requests by route and status, GraphQL
//! operations by root field and outcome, latency histograms, requests in flight, the
//! database pool, the rows per save statement and connections by status (SPEC §10). Values are recorded through the
//! `metrics` facade, so any crate (the IdP client, the save queue) can add its own; one
//! process-wide Prometheus recorder renders them. Labels are bounded: routes are route
//! templates, operations are the schema's root fields, outcomes are SPEC §7 codes. No
//! label ever holds request data.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::metrics::{counter, gauge, histogram};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use resolver::connector_details::save_queue::BATCH_ROWS_METRIC;
use resolver::record_reads::BATCH_KEYS_METRIC;
use sea_orm::DbBackend;

use crate::state::AppState;

/// Latency buckets, in seconds, up to the default request time limit.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0,
];
/// Rows per save statement (`BATCH_ROWS_METRIC`), up to the batch limit of 32.
const BATCH_ROWS_BUCKETS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
/// Keys per read statement (`BATCH_KEYS_METRIC`), up to the batch limit of 64.
const BATCH_KEYS_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// How often histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (later calls reuse it) and its upkeep task.
pub fn install() {
    HANDLE.get_or_init(|| {
        let installed = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(BATCH_ROWS_METRIC.to_owned()),
                    &BATCH_ROWS_BUCKETS,
                )
            })
            .and_then(|builder| {
                builder.set_buckets_for_metric(
                    Matcher::Full(BATCH_KEYS_METRIC.to_owned()),
                    &BATCH_KEYS_BUCKETS,
                )
            })
            .and_then(PrometheusBuilder::install_recorder);
        match installed {
            Ok(handle) => {
                let upkeep = handle.clone();
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval(UPKEEP_PERIOD);
                    loop {
                        ticks.tick().await;
                        upkeep.run_upkeep();
                    }
                });
                Some(handle)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot install the metrics recorder; /metrics stays empty");
                None
            }
        }
    });
}

/// `GET /metrics`: the Prometheus text exposition.
pub async fn render(State(state): State<AppState>) -> Response {
    record_pool(&state);
    record_connections(&state).await;
    let body = HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The pool's size, read at scrape time.
fn record_pool(state: &AppState) {
    let (size, idle, max) = match state.db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = state.db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DbBackend::Sqlite => {
            let pool = state.db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    gauge!("spaces_oauth_db_pool_connections", "state" => "idle").set(f64::from(idle));
    gauge!("spaces_oauth_db_pool_connections", "state" => "in_use")
        .set(f64::from(size.saturating_sub(idle)));
    gauge!("spaces_oauth_db_pool_max_connections").set(f64::from(max));
}

/// Connections by status (SPEC §10), counted at scrape time from the status index, so
/// every replica reports the same figures.
async fn record_connections(state: &AppState) {
    match resolver::lifecycle::count_by_status(&state.db).await {
        Ok(counts) => {
            for (status, count) in counts {
                gauge!("spaces_oauth_connections", "status" => status.as_str()).set(count as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot count connections by status"),
    }
}

/// Middleware: counts and times every request by route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = route_label(request.extensions().get::<MatchedPath>());
    let started = Instant::now();
    let in_flight = gauge!("spaces_oauth_http_requests_in_flight");
    in_flight.increment(1.0);
    let response = next.run(request).await;
    in_flight.decrement(1.0);
    let status = status_label(response.status());
    counter!("spaces_oauth_http_requests_total", "route" => route, "status" => status).increment(1);
    histogram!("spaces_oauth_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Counts one GraphQL operation: `operation` is a root field of the schema (or
/// `unknown` before validation), `outcome` is `ok` or a SPEC §7 code.
pub fn record_operation(operation: &'static str, outcome: &'static str) {
    counter!("spaces_oauth_graphql_operations_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
}

/// Times one GraphQL request (a batch is labelled `batch`).
pub fn record_graphql_latency(operation: &'static str, elapsed: Duration) {
    histogram!("spaces_oauth_graphql_request_duration_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
}

fn route_label(path: Option<&MatchedPath>) -> &'static str {
    match path.map(MatchedPath::as_str) {
        None => "unmatched",
        Some("/graphql") => "/graphql",
        Some("/healthz") => "/healthz",
        Some("/readyz") => "/readyz",
        Some("/metrics") => "/metrics",
        Some("/oauth2/callback" | "/account/{account_id}/oauth2/callback") => "/oauth2/callback",
        Some(_) => "other",
    }
}

fn status_label(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200 => "200",
        204 => "204",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        code if code < 300 => "2xx",
        code if code < 400 => "3xx",
        code if code < 500 => "4xx",
        _ => "5xx",
    }
}
