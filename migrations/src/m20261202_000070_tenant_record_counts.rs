//! `tenant_record_counts`: each tenant's number of records, in all and by connection
//! status, for the quota (SPEC §13 `MAX_RECORDS_PER_TENANT`) and the
//! `spaces_oauth_connections{status}` gauge (SPEC §10).
//!
//! A save that might create a record used to count its tenant's records first: an index
//! range as long as the tenant (up to the quota, 10,000 by default), with a heap visit per
//! entry on pages written since the last vacuum. Filling a database through the save
//! mutation slowed from ~2,300 to ~500 saves per second between 0 and 550k records
//! (issue 20). The gauge counted the status index at every `/metrics` scrape: 0.4–0.9 s
//! of database time at one million records. Now triggers keep the counts in the
//! transaction that inserts, deletes or changes the status of a record (an upsert that
//! updates fires only the status trigger, and only if the status changed): a save reads
//! one row, a scrape one row per tenant. One row per tenant, so a statement touching
//! several records locks each tenant's row once, in the order of its rows.
//!
//! The triggers are created before the backfill: on PostgreSQL they lock out concurrent
//! writes until this migration commits, so no record is counted twice or missed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (status, its column): a frozen copy of the connection statuses of SPEC §10.
const STATUSES: [(&str, &str); 5] = [
    ("NOT_CONNECTED", "not_connected"),
    ("PENDING_AUTHORIZATION", "pending_authorization"),
    ("ACTIVE", "active"),
    ("REFRESH_FAILING", "refresh_failing"),
    ("NEEDS_REAUTHORIZATION", "needs_reauthorization"),
];

/// `1` when `row`'s status is `status`, else `0`, as `int` (a boolean is one on SQLite).
fn is(backend: DbBackend, row: &str, status: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("({row}.connection_status = '{status}')::int"),
        _ => format!("({row}.connection_status = '{status}')"),
    }
}

/// `col = col ± (row is status)` for every status column, joined by commas.
fn shift_all(backend: DbBackend, terms: &[(&str, &str)]) -> String {
    STATUSES
        .iter()
        .map(|(status, column)| {
            let shift: String = terms
                .iter()
                .map(|(sign, row)| format!(" {sign} {}", is(backend, row, status)))
                .collect();
            format!("{column} = {column}{shift}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(backend: DbBackend) -> String {
    let (text, int, suffix) = match backend {
        DbBackend::Postgres => ("text", "bigint", ""),
        _ => ("TEXT", "INTEGER", " WITHOUT ROWID"),
    };
    let statuses: String = STATUSES
        .iter()
        .map(|(_, column)| format!("    {column} {int} NOT NULL DEFAULT 0,\n"))
        .collect();
    format!(
        "CREATE TABLE tenant_record_counts (\n    space_guid {text} NOT NULL,\n    \
         account_id {text} NOT NULL,\n    records {int} NOT NULL DEFAULT 0,\n{statuses}    \
         PRIMARY KEY (space_guid, account_id)\n){suffix};"
    )
}

/// The upsert counting one new record `NEW`.
fn count_new(backend: DbBackend, table_prefix: &str) -> String {
    let columns: Vec<&str> = STATUSES.iter().map(|(_, c)| *c).collect();
    let values: Vec<String> = STATUSES
        .iter()
        .map(|(s, _)| is(backend, "NEW", s))
        .collect();
    let updates: Vec<String> = std::iter::once("records")
        .chain(columns.iter().copied())
        .map(|c| format!("{c} = {table_prefix}{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO tenant_record_counts (space_guid, account_id, records, {}) \
         VALUES (NEW.space_guid, NEW.account_id, 1, {}) \
         ON CONFLICT (space_guid, account_id) DO UPDATE SET {};",
        columns.join(", "),
        values.join(", "),
        updates.join(", ")
    )
}

/// The update uncounting the deleted record `OLD`.
fn count_deleted(backend: DbBackend) -> String {
    format!(
        "UPDATE tenant_record_counts SET records = records - 1, {} \
         WHERE space_guid = OLD.space_guid AND account_id = OLD.account_id;",
        shift_all(backend, &[("-", "OLD")])
    )
}

/// The update moving a record from `OLD`'s status to `NEW`'s.
fn count_status_change(backend: DbBackend) -> String {
    format!(
        "UPDATE tenant_record_counts SET {} \
         WHERE space_guid = NEW.space_guid AND account_id = NEW.account_id;",
        shift_all(backend, &[("-", "OLD"), ("+", "NEW")])
    )
}

fn backfill() -> String {
    let columns: Vec<&str> = STATUSES.iter().map(|(_, c)| *c).collect();
    let sums: Vec<String> = STATUSES
        .iter()
        .map(|(s, _)| format!("sum(CASE WHEN connection_status = '{s}' THEN 1 ELSE 0 END)"))
        .collect();
    format!(
        "INSERT INTO tenant_record_counts (space_guid, account_id, records, {}) \
         SELECT space_guid, account_id, count(*), {} FROM connector_details \
         GROUP BY space_guid, account_id;",
        columns.join(", "),
        sums.join(", ")
    )
}

fn postgres_up() -> String {
    let pg = DbBackend::Postgres;
    format!(
        "{table}
CREATE OR REPLACE FUNCTION connector_details_count_records() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {new}
    ELSIF TG_OP = 'DELETE' THEN
        {deleted}
    ELSE
        {changed}
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER connector_details_counted
    AFTER INSERT OR DELETE ON connector_details
    FOR EACH ROW EXECUTE FUNCTION connector_details_count_records();
CREATE TRIGGER connector_details_status_counted
    AFTER UPDATE OF connection_status ON connector_details
    FOR EACH ROW
    WHEN (OLD.connection_status IS DISTINCT FROM NEW.connection_status)
    EXECUTE FUNCTION connector_details_count_records();
{backfill}",
        table = table(pg),
        new = count_new(pg, "tenant_record_counts."),
        deleted = count_deleted(pg),
        changed = count_status_change(pg),
        backfill = backfill(),
    )
}

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS connector_details_counted ON connector_details;
DROP TRIGGER IF EXISTS connector_details_status_counted ON connector_details;
DROP FUNCTION IF EXISTS connector_details_count_records();
DROP TABLE IF EXISTS tenant_record_counts;
"#;

fn sqlite_up() -> String {
    let lite = DbBackend::Sqlite;
    format!(
        "{table}
CREATE TRIGGER connector_details_counted_insert AFTER INSERT ON connector_details
BEGIN
    {new}
END;
CREATE TRIGGER connector_details_counted_delete AFTER DELETE ON connector_details
BEGIN
    {deleted}
END;
CREATE TRIGGER connector_details_status_counted AFTER UPDATE OF connection_status ON connector_details
    WHEN OLD.connection_status IS NOT NEW.connection_status
BEGIN
    {changed}
END;
{backfill}",
        table = table(lite),
        new = count_new(lite, ""),
        deleted = count_deleted(lite),
        changed = count_status_change(lite),
        backfill = backfill(),
    )
}

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS connector_details_counted_insert;
DROP TRIGGER IF EXISTS connector_details_counted_delete;
DROP TRIGGER IF EXISTS connector_details_status_counted;
DROP TABLE IF EXISTS tenant_record_counts;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => postgres_up(),
            _ => sqlite_up(),
        };
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }
}
