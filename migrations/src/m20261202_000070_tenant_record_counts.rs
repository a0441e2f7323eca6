//! `tenant_record_counts`: each tenant's number of records, for the quota (SPEC §13
//! `MAX_RECORDS_PER_TENANT`).
//!
//! A save that might create a record used to count its tenant's records first: an index
//! range as long as the tenant (up to the quota, 10,000 by default), with a heap visit per
//! entry on pages written since the last vacuum. Filling a database through the save
//! mutation slowed from ~2,300 to ~500 saves per second between 0 and 550k records
//! (issue 20). Now triggers keep the count in the transaction that inserts or deletes a
//! record (an upsert that updates fires neither), and a save reads one row. The trigger
//! is created before the backfill: on PostgreSQL it locks out concurrent inserts until
//! this migration commits, so no record is counted twice or missed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &str = r#"
CREATE TABLE tenant_record_counts (
    space_guid text NOT NULL,
    account_id text NOT NULL,
    records bigint NOT NULL,
    PRIMARY KEY (space_guid, account_id)
);
CREATE OR REPLACE FUNCTION connector_details_count_records() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_record_counts (space_guid, account_id, records)
        VALUES (NEW.space_guid, NEW.account_id, 1)
        ON CONFLICT (space_guid, account_id)
        DO UPDATE SET records = tenant_record_counts.records + 1;
    ELSE
        UPDATE tenant_record_counts SET records = records - 1
        WHERE space_guid = OLD.space_guid AND account_id = OLD.account_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER connector_details_counted
    AFTER INSERT OR DELETE ON connector_details
    FOR EACH ROW EXECUTE FUNCTION connector_details_count_records();
INSERT INTO tenant_record_counts (space_guid, account_id, records)
SELECT space_guid, account_id, count(*) FROM connector_details GROUP BY space_guid, account_id;
"#;

const POSTGRES_DOWN: &str = r#"
DROP TRIGGER IF EXISTS connector_details_counted ON connector_details;
DROP FUNCTION IF EXISTS connector_details_count_records();
DROP TABLE IF EXISTS tenant_record_counts;
"#;

const SQLITE_UP: &str = r#"
CREATE TABLE tenant_record_counts (
    space_guid TEXT NOT NULL,
    account_id TEXT NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (space_guid, account_id)
) WITHOUT ROWID;
CREATE TRIGGER connector_details_counted_insert
    AFTER INSERT ON connector_details
BEGIN
    INSERT INTO tenant_record_counts (space_guid, account_id, records)
    VALUES (NEW.space_guid, NEW.account_id, 1)
    ON CONFLICT (space_guid, account_id) DO UPDATE SET records = records + 1;
END;
CREATE TRIGGER connector_details_counted_delete
    AFTER DELETE ON connector_details
BEGIN
    UPDATE tenant_record_counts SET records = records - 1
    WHERE space_guid = OLD.space_guid AND account_id = OLD.account_id;
END;
INSERT INTO tenant_record_counts (space_guid, account_id, records)
SELECT space_guid, account_id, count(*) FROM connector_details GROUP BY space_guid, account_id;
"#;

const SQLITE_DOWN: &str = r#"
DROP TRIGGER IF EXISTS connector_details_counted_insert;
DROP TRIGGER IF EXISTS connector_details_counted_delete;
DROP TABLE IF EXISTS tenant_record_counts;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DbBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        manager.get_connection().execute_unprepared(sql).await?;
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
