//! `/healthz` (the process answers) and `/readyz` (the database answers; every
//! migration was applied before serving), for load balancers and orchestrators (SPEC §1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::state::AppState;

/// Always 200 while the process serves.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database is reachable, else 503 with the reason. Every migration is
/// applied: `app::build` applies them before the router exists (and stops the start if it
/// cannot), and migrations are never undone under a running server; so readiness is one
/// ping. Reading the migration table here as well cost five statements per probe, each
/// liable to open a connection while the pool is still warming up (issue 20).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Err(error) = state.db.ping().await {
        tracing::warn!(%error, "readiness: database unreachable");
        return unready("database unreachable");
    }
    (StatusCode::OK, Json(json!({ "status": "ready" })))
}

fn unready(reason: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
}
