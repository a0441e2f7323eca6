//! Everything a database holds, as text, to search for planted secrets: every row of
//! every table (each column cast to text), and for SQLite also the raw bytes of the
//! database and WAL files, where deleted or overwritten values may linger.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::app::TestApp;

impl TestApp {
    /// Every row of every table, one line per row: `table: col1 | col2 | …`.
    pub async fn dump_database_text(&self) -> String {
        let db = self.db();
        let backend = db.get_database_backend();
        let mut out = String::new();
        for table in self.table_names().await {
            let select = match backend {
                // A whole row as PostgreSQL's text form of a record.
                DbBackend::Postgres => format!("SELECT t::text AS row FROM \"{table}\" t"),
                _ => {
                    let columns = self.sqlite_columns(&table).await;
                    let casts: Vec<String> = columns
                        .iter()
                        .map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), 'NULL')"))
                        .collect();
                    format!(
                        "SELECT {} AS row FROM \"{table}\"",
                        if casts.is_empty() {
                            "''".to_owned()
                        } else {
                            casts.join(" || ' | ' || ")
                        }
                    )
                }
            };
            let rows = db
                .query_all_raw(Statement::from_string(backend, select))
                .await
                .expect("cannot dump a table");
            for row in rows {
                let text: String = row.try_get("", "row").expect("row as text");
                out.push_str(&table);
                out.push_str(": ");
                out.push_str(&text);
                out.push('\n');
            }
        }
        if let Some(path) = &self.database().sqlite_path {
            for file in [path.clone(), path.with_extension("db-wal")] {
                if let Ok(bytes) = std::fs::read(&file) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The names of every user table.
    pub async fn table_names(&self) -> Vec<String> {
        let db = self.db();
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT table_schema || '\".\"' || table_name AS name FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' \
                 AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            }
            _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
        };
        db.query_all_raw(Statement::from_string(backend, sql))
            .await
            .expect("cannot list tables")
            .into_iter()
            .map(|row| row.try_get::<String>("", "name").expect("table name"))
            .collect()
    }

    async fn sqlite_columns(&self, table: &str) -> Vec<String> {
        let db = self.db();
        db.query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT name FROM pragma_table_info('{table}')"),
        ))
        .await
        .expect("cannot list columns")
        .into_iter()
        .map(|row| row.try_get::<String>("", "name").expect("column name"))
        .collect()
    }
}
