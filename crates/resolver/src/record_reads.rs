//! Reading a record by its key, with its held token when asked, in one statement
//! (SPEC §3: the read-back query and the runtime's token read).
//!
//! On PostgreSQL, reads go through a queue served by a set number of readers, each
//! holding a pooled connection while reads keep coming: a connection that goes back to
//! sqlx's pool after every statement costs a second round trip (sqlx pings it on
//! release, unconditionally), which doubled the database's work per read. A reader gives
//! its connection back after [`IDLE_RELEASE`] without reads. Reads that arrive while
//! every reader is busy are read by the next free one with one statement
//! (`WHERE key_hash = ANY($1)`, one prepared statement whatever the batch size), as the
//! save queue does for saves; there is no timer, batches grow only with the load.
//!
//! Only the reader's own task runs its statements, so a request that gives up (its
//! timeout) never cancels one midway: the held connection is never left with a
//! statement half read. A failed statement drops its connection (the pool's release
//! ping then decides whether it is closed) and the next batch takes a fresh one.
//!
//! Nothing is cached: every read is a statement, so a read sees every write committed
//! before it, on this replica or another. A batch's rows are matched to its callers by
//! the whole record key (`RecordKey::is_of`), never by the hash alone, so a row only
//! ever answers the tenant whose key it is.
//!
//! SQLite reads run one statement on the pool directly: its "connections" are threads
//! of this process, the release ping no network round trip.

use std::sync::Arc;
use std::time::Duration;

use entity::connector_details::{Entity, Model};
use entity::oauth_token;
use sea_orm::sea_query::Expr;
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{PgPool, Postgres};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult,
    IdenStatic, QueryFilter, QueryResult, QueryTrait, RuntimeErr, SelectA, SelectB,
};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;

/// A record and, when asked for, its token row (`None` inside: no token held).
pub type Found = (Model, Option<oauth_token::Model>);

/// The most keys one statement reads.
const MAX_BATCH: usize = 64;

/// A reader holding a connection gives it back to the pool after this long without
/// reads (the pool then looks after it: idle timeout, ping before reuse).
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// The histogram of keys per read statement (PostgreSQL).
pub const BATCH_KEYS_METRIC: &str = "spaces_oauth_read_batch_keys";

/// Reads of records by key; cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordReads {
    db: DatabaseConnection,
    /// The read queue (PostgreSQL); `None` reads on the pool directly.
    queue: Option<mpsc::UnboundedSender<PendingRead>>,
}

/// A read waiting for a reader, and where its answer goes.
#[derive(Debug)]
struct PendingRead {
    key: RecordKey,
    hash: String,
    with_token: bool,
    answer: oneshot::Sender<ApiResult<Option<Found>>>,
}

impl RecordReads {
    /// Starts `readers` readers on PostgreSQL; on SQLite, or with none, reads run on
    /// the pool. Must be called within the Tokio runtime.
    pub fn start(db: DatabaseConnection, readers: usize) -> Self {
        let queued = db.get_database_backend() == DbBackend::Postgres && readers > 0;
        let queue = queued.then(|| {
            let pool = db.get_postgres_connection_pool().clone();
            let (reads, queue) = mpsc::unbounded_channel();
            let queue = Arc::new(Mutex::new(queue));
            let statements = Arc::new(Statements::new());
            for _ in 0..readers {
                tokio::spawn(reader(
                    pool.clone(),
                    Arc::clone(&queue),
                    Arc::clone(&statements),
                ));
            }
            reads
        });
        Self { db, queue }
    }

    /// The record at `key`, with its token row when `with_token`.
    pub async fn find(&self, key: &RecordKey, with_token: bool) -> ApiResult<Option<Found>> {
        let Some(queue) = &self.queue else {
            return direct(&self.db, key, with_token).await;
        };
        let (answer, answered) = oneshot::channel();
        queue
            .send(PendingRead {
                key: key.clone(),
                hash: key.key_hash(),
                with_token,
                answer,
            })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// One statement on the pool: the record, joined to its token when asked.
async fn direct(
    db: &impl ConnectionTrait,
    key: &RecordKey,
    with_token: bool,
) -> ApiResult<Option<Found>> {
    if with_token {
        Ok(key
            .select()
            .find_also_related(oauth_token::Entity)
            .one(db)
            .await?)
    } else {
        Ok(key.find(db).await?.map(|record| (record, None)))
    }
}

/// The two statements a reader runs, built once: the records at any of `$1`'s key
/// hashes, alone or joined to their tokens.
struct Statements {
    records: String,
    with_tokens: String,
}

impl Statements {
    fn new() -> Self {
        let any_key = || Expr::cust(r#""connector_details"."key_hash" = ANY($1)"#);
        Self {
            records: Entity::find()
                .filter(any_key())
                .build(DbBackend::Postgres)
                .sql,
            with_tokens: Entity::find()
                .find_also_related(oauth_token::Entity)
                .filter(any_key())
                .build(DbBackend::Postgres)
                .sql,
        }
    }
}

/// One reader: takes every read waiting (up to `MAX_BATCH`), reads them with one
/// statement on the connection it holds, answers each; until every sender is dropped.
async fn reader(
    pool: PgPool,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<PendingRead>>>,
    statements: Arc<Statements>,
) {
    let mut held: Option<PoolConnection<Postgres>> = None;
    loop {
        let mut batch = Vec::new();
        {
            let mut queue = queue.lock().await;
            let first = if held.is_some() {
                match tokio::time::timeout(IDLE_RELEASE, queue.recv()).await {
                    Ok(first) => first,
                    Err(_) => {
                        // Idle: the connection goes back to the pool, and this reader
                        // waits for the next read without one.
                        held = None;
                        continue;
                    }
                }
            } else {
                queue.recv().await
            };
            let Some(first) = first else { return };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(read) => batch.push(read),
                    Err(_) => break,
                }
            }
        }
        // A caller that gave up (request timeout) before its read was sent is not read.
        batch.retain(|read| !read.answer.is_closed());
        if batch.is_empty() {
            continue;
        }
        let conn = match held.take() {
            Some(conn) => conn,
            None => match pool.acquire().await {
                Ok(conn) => conn,
                Err(err) => {
                    answer_failure(batch, &database_error(err));
                    continue;
                }
            },
        };
        held = read_batch(conn, batch, &statements).await;
    }
}

/// Reads `batch` with one statement on `conn` and answers each read; the connection
/// back when the statement succeeded.
async fn read_batch(
    mut conn: PoolConnection<Postgres>,
    batch: Vec<PendingRead>,
    statements: &Statements,
) -> Option<PoolConnection<Postgres>> {
    metrics::histogram!(BATCH_KEYS_METRIC).record(batch.len() as f64);
    let with_token = batch.iter().any(|read| read.with_token);
    let sql = if with_token {
        &statements.with_tokens
    } else {
        &statements.records
    };
    let mut hashes: Vec<&str> = batch.iter().map(|read| read.hash.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let rows = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql.as_str()))
        .bind(hashes)
        .fetch_all(&mut *conn)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(err) => {
            // The connection goes back to the pool, whose release ping closes it if the
            // statement broke it.
            drop(conn);
            answer_failure(batch, &database_error(err));
            return None;
        }
    };
    let found: Result<Vec<Found>, DbErr> = rows
        .into_iter()
        .map(|row| {
            let row = QueryResult::from(row);
            Ok(if with_token {
                (
                    Model::from_query_result(&row, SelectA.as_str())?,
                    oauth_token::Model::from_query_result_optional(&row, SelectB.as_str())?,
                )
            } else {
                (Model::from_query_result(&row, "")?, None)
            })
        })
        .collect();
    match found {
        Ok(found) => answer_each(batch, &found),
        Err(err) => answer_failure(batch, &err),
    }
    Some(conn)
}

/// Answers each read with the row stored at its key, if any.
fn answer_each(batch: Vec<PendingRead>, found: &[Found]) {
    for read in batch {
        let record =
            found
                .iter()
                .find(|(record, _)| read.key.is_of(record))
                .map(|(record, token)| {
                    let token = if read.with_token { token.clone() } else { None };
                    (record.clone(), token)
                });
        let _ = read.answer.send(Ok(record));
    }
}

/// Answers every read of `batch` with `err` (as `DATABASE_UNAVAILABLE` when the database
/// could not be reached, else an internal error).
fn answer_failure(batch: Vec<PendingRead>, err: &DbErr) {
    let unreachable = crate::error::is_connection_failure(err);
    let text = err.to_string();
    for read in batch {
        let err = if unreachable {
            ApiError::DatabaseUnavailable(DbErr::Conn(RuntimeErr::Internal(text.clone())))
        } else {
            ApiError::internal(DbErr::Query(RuntimeErr::Internal(text.clone())))
        };
        let _ = read.answer.send(Err(err));
    }
}

fn database_error(err: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn stopped() -> ApiError {
    ApiError::internal(std::io::Error::other("the read queue has stopped"))
}

#[cfg(test)]
mod tests {
    use super::Statements;

    #[test]
    fn a_batch_is_one_statement_over_the_key_hash_index() {
        let statements = Statements::new();
        for sql in [&statements.records, &statements.with_tokens] {
            assert!(
                sql.ends_with(r#"WHERE "connector_details"."key_hash" = ANY($1)"#),
                "{sql}"
            );
            assert!(!sql.contains("$2"), "{sql}");
        }
        assert!(
            statements
                .with_tokens
                .contains(r#"LEFT JOIN "oauth_tokens""#),
            "{}",
            statements.with_tokens
        );
    }
}
