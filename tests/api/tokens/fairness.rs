//! The background refresher's bounds (SPEC §10): one tenant's many connections to an
//! IdP that answers after 9 s do not delay another tenant's refresh beyond a sweep
//! interval, and the due-scan walks its index on both databases.

use std::time::Duration;

use super::*;
use crate::idp_double::{CLIENT_SECRET, Knobs, PASSWORD, USERNAME};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

backend_tests!(
    one_tenants_slow_connections_do_not_delay_another_tenants_refresh,
    the_due_scan_walks_the_due_index,
);

const INTERVAL: f64 = 0.5;

async fn one_tenants_slow_connections_do_not_delay_another_tenants_refresh(backend: Backend) {
    let slow = IdpDouble::start_with(Knobs {
        expires_in: 2,
        ..Knobs::default()
    })
    .await;
    let fast = IdpDouble::start_with(Knobs {
        expires_in: 4,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn_with(backend, |config| {
        config.refresh_interval_seconds = INTERVAL;
        config.refresh_ahead_seconds = 1;
        config.refresh_concurrency = 4;
        config.limits.idp_timeout_seconds = 15;
        config.rate_limit_rps = 0;
    })
    .await
    else {
        return;
    };
    let password = |connection: &str| {
        key_input(SAMPLE_SPACE)
            .with("connectionId", connection)
            .with("grantType", "PASSWORD")
            .with("username", USERNAME)
            .with("password", PASSWORD)
    };
    let a = app.tenant("tenant-a", SAMPLE_SPACE);
    for n in 0..20 {
        let connection = format!("a{n}");
        save_with_secret(&a, &slow, &connection, CLIENT_SECRET).await;
        let body = generate(&a, password(&connection)).await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    // From now on tenant A's IdP takes 9 s per answer.
    slow.set(|k| k.delay = Duration::from_secs(9));
    // Let A's refreshes fill the slots A may take.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(slow.started_requests() > 20, "A's refreshes did not start");

    let b = app.tenant("tenant-b", SAMPLE_SPACE);
    save_with_secret(&b, &fast, "b1", CLIENT_SECRET).await;
    let body = generate(&b, password("b1")).await;
    assert!(body.get("errors").is_none(), "{body}");
    let b_row = || async {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let record = entity::connector_details::Entity::find()
            .filter(entity::connector_details::Column::AccountId.eq("tenant-b"))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        entity::oauth_token::Entity::find_by_id(record.id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    let due_at = b_row().await.expires_at.unwrap() - chrono::Duration::seconds(1);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let refreshed_at = loop {
        if let Some(at) = b_row().await.last_refreshed_at {
            break at;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tenant B's token was not refreshed while A's were slow"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Due, then picked up by the next sweep (plus the IdP call and slack for the CI).
    let late = refreshed_at - due_at;
    assert!(
        late <= chrono::Duration::milliseconds((INTERVAL * 1000.0) as i64 + 1000),
        "tenant B's refresh came {late} after it was due"
    );
    // A's slow refreshes were still running meanwhile.
    let answered_a = slow.requests().len() as u32;
    assert!(slow.started_requests() > answered_a, "A was not busy");
}

async fn the_due_scan_walks_the_due_index(backend: Backend) {
    use resolver::tokens::due::{Scan, select};
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    let Some(app) = spawn(backend).await else {
        return;
    };
    let scan = Scan {
        ahead: Duration::from_secs(300),
        per_tenant: 8,
        batch: 100,
    };
    let db = app.db();
    let plan = match backend {
        Backend::Sqlite => {
            let sql = select(DbBackend::Sqlite, scan).to_string(SqliteQueryBuilder);
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Sqlite,
                    format!("EXPLAIN QUERY PLAN {sql}"),
                ))
                .await
                .unwrap();
            rows.iter()
                .map(|row| row.try_get::<String>("", "detail").unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        }
        Backend::Postgres => {
            let sql = select(DbBackend::Postgres, scan).to_string(PostgresQueryBuilder);
            let txn = db.begin().await.unwrap();
            // Tiny tables make any plan cheap; forbid the sequential scan to see
            // whether the index can serve the query at all.
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            let rows = txn
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("EXPLAIN {sql}"),
                ))
                .await
                .unwrap();
            rows.iter()
                .map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    assert!(plan.contains("oauth_tokens_due"), "no index in:\n{plan}");
}
