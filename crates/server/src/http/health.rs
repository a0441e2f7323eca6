//! `/healthz` (the process answers) and `/readyz` (the database answers and every
//! migration is applied), for load balancers and orchestrators (SPEC §1).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};

use crate::state::AppState;

/// Always 200 while the process serves.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database is reachable and migrated, else 503 with the reason.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Err(error) = state.db.ping().await {
        tracing::warn!(%error, "readiness: database unreachable");
        return unready("database unreachable");
    }
    match Migrator::get_pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Ok(_) => unready("migrations pending"),
        Err(error) => {
            tracing::warn!(%error, "readiness: cannot read the migration table");
            unready("database unreachable")
        }
    }
}

fn unready(reason: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
}
