//! The database pool: SQLite (WAL, busy timeout) or PostgreSQL, wrapped for sea-orm.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::Connection;
use sea_orm::sqlx::pool::PoolConnectionMetadata;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};

/// How long a request waits for a pooled connection before `DATABASE_UNAVAILABLE`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The most connections a SQLite pool opens, whatever `DB_MAX_CONNECTIONS` says. SQLite
/// writes one transaction at a time, and sqlx gives each SQLite connection a thread and
/// a page cache of its own: past a few connections, more only cost memory (peak RSS
/// under the bench's load: 49 MiB with 10, 41 MiB with 4).
const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// A pooled connection idle for longer than this is pinged before it is handed out.
/// sqlx's default pings every connection on every acquire: a database round trip per
/// statement for nothing, since sqlx already pings each connection when it goes back
/// to the pool. A connection that died in between is noticed by its statement, which
/// fails as `DATABASE_UNAVAILABLE` (SPEC §7), and is then dropped from the pool.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens a pool on `url` (`sqlite://…` or `postgres://…`).
///
/// The pools have no idle timeout and no maximum lifetime, so sqlx runs no reaper task:
/// sqlx 0.9's reaper loops `for _ in 0..num_idle`, and a race in its release path can
/// wrap that counter to `usize::MAX`, leaving the task spinning a core and the pool's
/// close hanging (sqlx issue 3645, fixed upstream after 0.9.0; seen here once, in a test's
/// pool). Idle connections stay open up to `DB_MAX_CONNECTIONS`; one that died meanwhile is
/// found by the idle ping below.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, max_connections, ACQUIRE_TIMEOUT).await
}

/// Opens a pool on `url` whose requests give up on a connection after `acquire_timeout`:
/// while the database is down, that bounds how long a request waits before it is
/// answered `DATABASE_UNAVAILABLE` (SPEC §7); the pool reconnects by itself afterwards.
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid SQLite URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .idle_timeout(None)
            .max_lifetime(None)
            .max_connections(max_connections.min(SQLITE_MAX_CONNECTIONS))
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
            .connect_with(options)
            .await
            .context("cannot open the SQLite database")?;
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        let pool = PgPoolOptions::new()
            .idle_timeout(None)
            .max_lifetime(None)
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
            .connect_with(options)
            .await
            .context("cannot connect to PostgreSQL")?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
    }
}

/// The pool's `before_acquire` check: pings a connection that sat idle for a while
/// (the database may have restarted meanwhile); an error makes the pool drop it and
/// hand out another.
async fn ping_if_idle<C: Connection>(
    conn: &mut C,
    meta: PoolConnectionMetadata,
) -> Result<bool, sea_orm::sqlx::Error> {
    if meta.idle_for >= PING_IF_IDLE_FOR {
        conn.ping().await?;
    }
    Ok(true)
}
