//! Costs that do not grow with the data (issue 20): every statement on a path that runs
//! per start, per request or per sweep reads an index, never a whole growing table.
//!
//! On PostgreSQL each statement, built by the same function the server uses, is
//! `EXPLAIN`ed with `enable_seqscan = off` (otherwise the planner rightly scans the tiny
//! tables of a test): a `Seq Scan` of a growing table means no index serves it, and an
//! index walked without an index condition means a whole index is read, unless a `Limit`
//! stops it at the first entry (the loose index scan's probes). On SQLite the key-id
//! probes of the start-up check are checked with `EXPLAIN QUERY PLAN`. Set
//! `PRINT_PLANS=1` to print every plan (BENCHMARKS.md "Query plans" lists them).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait as _, ConnectionTrait, DbBackend, IntoActiveModel as _, QueryTrait as _,
    Statement, TransactionTrait as _,
};

use crate::helpers::*;

backend_tests!(start_up_reads_key_ids_from_indexes_only);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_per_start_request_and_sweep_statement_uses_an_index_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    // One record, so the cursor and the delete are those of a real row.
    app.tenant("acct-1", SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE).with("clientSecret", "a-secret"))
        .await;
    let record = app.records().await.remove(0);
    let key = resolver::record_key::RecordKey::of(&record);
    let backend = DbBackend::Postgres;
    let list = (
        record.space_guid.as_str(),
        record.account_id.as_str(),
        record.integration_pack_instance_id.as_str(),
    );
    let scan = resolver::tokens::due::Scan {
        ahead: std::time::Duration::from_secs(300),
        per_tenant: 8,
        batch: 100,
    };
    let uuid = uuid::Uuid::nil();
    let mut statements: Vec<(&str, Statement)> = Vec::new();
    for sealed in resolver::key_ids::SEALED {
        statements.push((
            "start: first key id",
            backend.build(&sealed.next_key_id(None)),
        ));
        statements.push((
            "start: next key id",
            backend.build(&sealed.next_key_id(Some("k1"))),
        ));
        statements.push((
            "rotate-keys: values left under a key",
            backend.build(&sealed.count_under("k1")),
        ));
    }
    use resolver::key_rotation::stale_batch;
    statements.extend([
        (
            "start: records without a secret binding",
            resolver::details::binding::unbound().build(backend),
        ),
        (
            "rotate-keys: stale records",
            stale_batch::<entity::connector_details::Entity>(
                entity::connector_details::Column::Id,
                "k2",
                Some(uuid),
                100,
            )
            .build(backend),
        ),
        (
            "rotate-keys: stale tokens",
            stale_batch::<entity::oauth_token::Entity>(
                entity::oauth_token::Column::ConnectorId,
                "k2",
                Some(uuid),
                100,
            )
            .build(backend),
        ),
        (
            "rotate-keys: stale pending authorizations",
            stale_batch::<entity::oauth_state::Entity>(
                entity::oauth_state::Column::StateHash,
                "k2",
                Some("0"),
                100,
            )
            .build(backend),
        ),
        (
            "sweep: tokens due",
            backend.build(&resolver::tokens::due::select(backend, scan)),
        ),
        (
            "sweep: expired tokens nothing can renew",
            resolver::tokens::due::select_unrenewable(backend, 100).build(backend),
        ),
        (
            "sweep: expired pending authorizations",
            resolver::tokens::states::expired().build(backend),
        ),
        (
            "request: list, first page",
            resolver::connector_details::service::page(list, None, 50).build(backend),
        ),
        (
            "request: list, after a cursor",
            resolver::connector_details::service::page(
                list,
                Some((record.created_at, record.id)),
                50,
            )
            .build(backend),
        ),
        (
            "request: save, the upsert with the quota's condition",
            backend.build(
                &resolver::connector_details::service::save_statement(
                    [(&key, &record.clone().into_active_model().reset_all())],
                    10_000,
                )
                .unwrap(),
            ),
        ),
        (
            "request: delete a record",
            resolver::connector_details::service::delete_one(&key).build(backend),
        ),
        (
            "worker: claim webhook deliveries",
            events::delivery::claim(
                backend,
                &["https://hooks.example.com/a".to_owned()],
                10,
                chrono::Duration::seconds(30),
            )
            .build(backend),
        ),
    ]);
    // The cascades PostgreSQL runs for a deleted record, and the settings-change
    // trigger's deletes (migration m000040), in their own form.
    for table in ["oauth_tokens", "oauth_states"] {
        statements.push((
            "request: delete cascade",
            Statement::from_sql_and_values(
                backend,
                format!("DELETE FROM ONLY {table} WHERE $1 = connector_id"),
                [uuid.into()],
            ),
        ));
    }
    statements.push((
        "sweep: an expired authorization's record still pending",
        Statement::from_sql_and_values(
            backend,
            "SELECT 1 FROM oauth_states WHERE connector_id = $1 AND expires_at > $2 LIMIT 1",
            [uuid.into(), Utc::now().into()],
        ),
    ));

    let txn = app.db().begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    let mut failures = Vec::new();
    for (path, statement) in &statements {
        let plan = explain(&txn, statement).await;
        if std::env::var("PRINT_PLANS").is_ok_and(|v| v == "1") {
            println!("-- {path}\n{}\n{plan}\n", statement.sql);
        }
        if let Some(problem) = full_read(&plan) {
            failures.push(format!("{path}: {problem}\n{}\n{plan}", statement.sql));
        }
    }
    txn.rollback().await.unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The tables that grow with the number of records.
const GROWING: [&str; 5] = [
    "connector_details",
    "oauth_tokens",
    "oauth_states",
    "connection_events",
    "webhook_deliveries",
];

/// What in `plan` reads a growing table or index whole, if anything.
fn full_read(plan: &str) -> Option<String> {
    let lines: Vec<&str> = plan.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        let Some(table) = GROWING.iter().find(|t| line.contains(&format!(" on {t}"))) else {
            continue;
        };
        if line.contains("Seq Scan") {
            return Some(format!("a sequential scan of {table}"));
        }
        if !line.contains("Index") || line.contains("Bitmap Heap Scan") {
            continue;
        }
        // The node's own detail lines, up to the next node.
        let details = lines[at + 1..]
            .iter()
            .take_while(|l| !l.contains("->"))
            .collect::<Vec<_>>();
        let conditioned = details.iter().any(|l| l.contains("Index Cond:"));
        let under_limit = at > 0 && lines[at - 1].contains("Limit");
        let filtered = details.iter().any(|l| l.contains("Filter:"));
        // Under a Limit with nothing filtered out, the first entry answers.
        let first_entry_answers = under_limit && !filtered;
        if !conditioned && !first_entry_answers {
            return Some(format!("a whole index of {table} is read"));
        }
    }
    None
}

/// The plan of `statement`, one line per plan line.
async fn explain(db: &impl ConnectionTrait, statement: &Statement) -> String {
    let prefix = match db.get_database_backend() {
        DbBackend::Sqlite => "EXPLAIN QUERY PLAN",
        _ => "EXPLAIN",
    };
    let explain = Statement {
        sql: format!("{prefix} {}", statement.sql),
        ..statement.clone()
    };
    let rows = db.query_all_raw(explain).await.unwrap();
    let column = usize::from(db.get_database_backend() == DbBackend::Sqlite) * 3;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(column).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The start-up check's probes and rotate-keys' counts read the key-id indexes on both
/// backends, and answer from them.
async fn start_up_reads_key_ids_from_indexes_only(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for connection in ["1", "2", "3"] {
        app.tenant("acct-1", SAMPLE_SPACE)
            .save(
                save_input(SAMPLE_SPACE)
                    .with("connectionId", connection)
                    .with("clientSecret", "a-secret"),
            )
            .await;
    }
    let db = app.db();
    let db_backend = db.get_database_backend();
    for sealed in resolver::key_ids::SEALED {
        for statement in [
            sealed.next_key_id(None),
            sealed.next_key_id(Some("k1")),
            sealed.count_under("k1"),
        ] {
            let statement = db_backend.build(&statement);
            let plan = match backend {
                Backend::Sqlite => explain(db, &statement).await,
                Backend::Postgres => {
                    let txn = db.begin().await.unwrap();
                    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                        .await
                        .unwrap();
                    let plan = explain(&txn, &statement).await;
                    txn.rollback().await.unwrap();
                    plan
                }
            };
            let index = format!("{}_{}_key_id", sealed.table, sealed.column);
            assert!(plan.contains(&index), "{}\n{plan}", statement.sql);
            if backend == Backend::Sqlite {
                // SEARCH (a range of the index), never SCAN (the whole table or index).
                assert!(!plan.contains("SCAN"), "{}\n{plan}", statement.sql);
            } else {
                assert!(full_read(&plan).is_none(), "{}\n{plan}", statement.sql);
            }
        }
    }
    let client_secrets = resolver::key_ids::SEALED[0];
    assert_eq!(client_secrets.key_ids(db).await.unwrap(), ["k1"]);
    let refresh_tokens = resolver::key_ids::SEALED[3];
    assert_eq!(
        refresh_tokens.key_ids(db).await.unwrap(),
        Vec::<String>::new()
    );
}
