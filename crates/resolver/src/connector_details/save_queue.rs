//! Saves that arrive together are written together.
//!
//! Most of what a save costs the database is per statement, not per row: the round trip,
//! the commit and its WAL flush, the connection's trip through the pool. So saves go
//! through a queue served by a set number of writers (the server's default is one). A
//! save that finds a writer free is written at once, alone; saves that arrive while every
//! writer is busy wait for the next free one, which upserts them all with one multi-row
//! `INSERT … ON CONFLICT … RETURNING`. There is no timer: nothing waits that need not,
//! and batches grow only with the load.
//!
//! The statement carries the tenant quota's condition (`service::save_rows`): a save it
//! refuses is answered `QUOTA_EXCEEDED`, the others are written.
//!
//! A batch holds each record key once (a second save of the same key waits for the next
//! batch, so the later save still wins) and is sorted by key, so two batches running at
//! once lock their rows in the same order. If a batch fails for any reason but the
//! database being unreachable, its saves are retried one by one: one bad row never fails
//! another caller's save.

use std::collections::VecDeque;
use std::sync::Arc;

use entity::connector_details::{ActiveModel, Model};
use sea_orm::{DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::service::save_rows;
use crate::error::{ApiError, ApiResult};
use crate::record_key::RecordKey;

/// The most rows one statement upserts (16 columns each, far below any bind limit).
const MAX_BATCH_ROWS: usize = 32;

/// The histogram of rows per save statement (the server gives it buckets up to
/// `MAX_BATCH_ROWS`).
pub const BATCH_ROWS_METRIC: &str = "spaces_oauth_save_batch_rows";

/// The sending side of the save queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct SaveQueue {
    saves: mpsc::UnboundedSender<PendingSave>,
}

/// A save waiting for a writer, and where its answer goes.
#[derive(Debug)]
struct PendingSave {
    key: RecordKey,
    row: ActiveModel,
    answer: oneshot::Sender<ApiResult<Model>>,
}

impl SaveQueue {
    /// Starts the queue with `writers` statements at most in flight (at least one; always
    /// one on SQLite, which writes one transaction at a time anyway), creating records
    /// only within `max_records_per_tenant` (SPEC §13). Must be called within the Tokio
    /// runtime.
    pub fn start(db: DatabaseConnection, writers: usize, max_records_per_tenant: u64) -> Self {
        let writers = match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => writers.max(1),
        };
        let (saves, queue) = mpsc::unbounded_channel();
        let writers = Arc::new(Semaphore::new(writers));
        let writer = Writer {
            db,
            max_records_per_tenant,
        };
        tokio::spawn(dispatch(writer, queue, writers));
        Self { saves }
    }

    /// Upserts `row`, the record at `key`, and answers the stored record.
    pub(super) async fn save(&self, key: RecordKey, row: ActiveModel) -> ApiResult<Model> {
        let (answer, answered) = oneshot::channel();
        self.saves
            .send(PendingSave { key, row, answer })
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// Hands batches to free writers until every `SaveQueue` is dropped.
async fn dispatch(
    writer: Writer,
    mut queue: mpsc::UnboundedReceiver<PendingSave>,
    writers: Arc<Semaphore>,
) {
    // Saves received and not yet written, in arrival order.
    let mut waiting = VecDeque::new();
    loop {
        // Wait for a free writer first: meanwhile, arriving saves gather in the queue.
        let Ok(permit) = Arc::clone(&writers).acquire_owned().await else {
            return;
        };
        if waiting.is_empty() {
            match queue.recv().await {
                Some(save) => waiting.push_back(save),
                None => return,
            }
        }
        while let Ok(save) = queue.try_recv() {
            waiting.push_back(save);
        }
        let batch = next_batch(&mut waiting);
        if !batch.is_empty() {
            tokio::spawn(writer.clone().write(batch, permit));
        }
    }
}

/// Takes the next batch out of `waiting`: the first save of each key, in arrival order,
/// as many as the largest power of two that allows, at most `MAX_BATCH_ROWS`. Powers of
/// two keep each connection's prepared statements to six sizes (memory on SQLite); the
/// saves left behind keep their order, so of two saves of one key the later is written
/// last.
fn next_batch(waiting: &mut VecDeque<PendingSave>) -> Vec<PendingSave> {
    // A caller that gave up (request timeout) before its save was sent is not written.
    waiting.retain(|save| !save.answer.is_closed());
    let mut chosen: Vec<usize> = Vec::new();
    for (at, save) in waiting.iter().enumerate() {
        if chosen.len() == MAX_BATCH_ROWS {
            break;
        }
        if !chosen.iter().any(|&taken| waiting[taken].key == save.key) {
            chosen.push(at);
        }
    }
    chosen.truncate(power_of_two_at_most(chosen.len()));
    let mut batch = Vec::with_capacity(chosen.len());
    let mut left = VecDeque::with_capacity(waiting.len() - chosen.len());
    for (at, save) in waiting.drain(..).enumerate() {
        if chosen.contains(&at) {
            batch.push(save);
        } else {
            left.push_back(save);
        }
    }
    *waiting = left;
    batch
}

/// The largest power of two not above `n` (0 for 0).
fn power_of_two_at_most(n: usize) -> usize {
    match n {
        0 => 0,
        n => 1 << (usize::BITS - 1 - n.leading_zeros()),
    }
}

/// What writes the batches: the database and the quota the statements apply.
#[derive(Clone, Debug)]
struct Writer {
    db: DatabaseConnection,
    max_records_per_tenant: u64,
}

impl Writer {
    /// Writes one batch and answers each of its saves.
    async fn write(self, mut batch: Vec<PendingSave>, _permit: OwnedSemaphorePermit) {
        metrics::histogram!(BATCH_ROWS_METRIC).record(batch.len() as f64);
        if batch.len() == 1 {
            return self.one_by_one(batch).await;
        }
        batch.sort_by(|a, b| a.key.cmp(&b.key));
        let rows = batch.iter().map(|save| (&save.key, &save.row));
        match save_rows(&self.db, rows, self.max_records_per_tenant).await {
            Ok(saved) => self.answer_each(batch, saved),
            Err(ApiError::DatabaseUnavailable(err)) => {
                let text = err.to_string();
                for save in batch {
                    let unreachable = DbErr::Conn(RuntimeErr::Internal(text.clone()));
                    let _ = save
                        .answer
                        .send(Err(ApiError::DatabaseUnavailable(unreachable)));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, rows = batch.len(), "batched save failed; saving one by one");
                self.one_by_one(batch).await;
            }
        }
    }

    /// Upserts each save with a statement of its own and answers it.
    async fn one_by_one(&self, batch: Vec<PendingSave>) {
        for save in batch {
            let saved = save_rows(
                &self.db,
                [(&save.key, &save.row)],
                self.max_records_per_tenant,
            )
            .await
            .map(|saved| saved.into_iter().next());
            match saved {
                Ok(saved) => self.answer(save, saved),
                Err(err) => {
                    let _ = save.answer.send(Err(err));
                }
            }
        }
    }

    /// Matches the returned records to the saves by key.
    fn answer_each(&self, batch: Vec<PendingSave>, mut saved: Vec<Model>) {
        for save in batch {
            let record = saved
                .iter()
                .position(|model| save.key.is_of(model))
                .map(|at| saved.swap_remove(at));
            self.answer(save, record);
        }
    }

    /// Answers `save` with its stored record; none means the quota refused it.
    fn answer(&self, save: PendingSave, record: Option<Model>) {
        let _ = save
            .answer
            .send(record.ok_or(ApiError::QuotaExceeded(self.max_records_per_tenant)));
    }
}

fn stopped() -> ApiError {
    ApiError::internal(std::io::Error::other("the save queue has stopped"))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use entity::connector_details::Entity;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveValue::Set, ConnectOptions, Database, EntityTrait};

    use super::*;

    /// A migrated in-memory SQLite database (one connection: one database).
    async fn database() -> DatabaseConnection {
        let mut options = ConnectOptions::new("sqlite::memory:");
        options.max_connections(1).min_connections(1);
        let db = Database::connect(options).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        db
    }

    fn key(ipack: &str) -> RecordKey {
        RecordKey {
            space_guid: "space".into(),
            account_id: "acct".into(),
            integration_pack_instance_id: ipack.into(),
            process_id: "1".into(),
            env_id: "2".into(),
            connection_id: "3".into(),
        }
    }

    fn row(key: &RecordKey, client_id: &str) -> ActiveModel {
        ActiveModel {
            client_id: Set(client_id.into()),
            client_secret: Set("dummyClientSecret".into()),
            sealed_client_secret: Set(None),
            oauth_connector_details: Set("{}".into()),
            sealed_details_secrets: Set(None),
            token_settings_fingerprint: Set(String::new()),
            is_token_generated: Set(false),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..key.new_row()
        }
    }

    /// A save of `ipack` with `client_id`, and where its answer arrives.
    fn pending(ipack: &str, client_id: &str) -> (PendingSave, oneshot::Receiver<ApiResult<Model>>) {
        let key = key(ipack);
        let (answer, answered) = oneshot::channel();
        let row = row(&key, client_id);
        (PendingSave { key, row, answer }, answered)
    }

    async fn permit() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap()
    }

    /// A writer of `db` whose tenants may hold `max` records each.
    fn writer(db: &DatabaseConnection, max: u64) -> Writer {
        Writer {
            db: db.clone(),
            max_records_per_tenant: max,
        }
    }

    fn client_ids(batch: &[PendingSave]) -> Vec<String> {
        batch
            .iter()
            .map(|save| match &save.row.client_id {
                sea_orm::ActiveValue::Set(id) => id.clone(),
                other => panic!("client id not set: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn one_statement_answers_each_save_with_its_own_record() {
        let db = database().await;
        let (saves, answers): (Vec<_>, Vec<_>) =
            [("c", "client-c"), ("a", "client-a"), ("b", "client-b")]
                .into_iter()
                .map(|(ipack, client)| pending(ipack, client))
                .unzip();
        writer(&db, 100).write(saves, permit().await).await;

        for (answer, ipack) in answers.into_iter().zip(["c", "a", "b"]) {
            let record = answer.await.unwrap().unwrap();
            assert_eq!(record.integration_pack_instance_id, ipack);
            assert_eq!(record.client_id, format!("client-{ipack}"));
        }
        assert_eq!(Entity::find().all(&db).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_row_the_database_refuses_fails_alone() {
        let db = database().await;
        let x = key("x");
        save_rows(&db, [(&x, &row(&x, "client-x"))], 100)
            .await
            .unwrap();
        let taken = Entity::find().one(&db).await.unwrap().unwrap();
        // A new key under an id already in use: the batch statement fails on it.
        let (mut clash, clash_answer) = pending("y", "client-y");
        clash.row.id = Set(taken.id);
        let (fine, fine_answer) = pending("z", "client-z");
        writer(&db, 100)
            .write(vec![clash, fine], permit().await)
            .await;

        assert!(clash_answer.await.unwrap().is_err());
        assert_eq!(fine_answer.await.unwrap().unwrap().client_id, "client-z");
        let mut stored: Vec<_> = Entity::find()
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|record| record.client_id)
            .collect();
        stored.sort();
        assert_eq!(stored, ["client-x", "client-z"]);
    }

    #[tokio::test]
    async fn the_quota_refuses_new_records_of_a_full_tenant_alone_and_updates_pass() {
        let db = database().await;
        let (saves, answers): (Vec<_>, Vec<_>) = [("a", "a1"), ("b", "b1")]
            .map(|(k, c)| pending(k, c))
            .into_iter()
            .unzip();
        writer(&db, 2).write(saves, permit().await).await;
        for answer in answers {
            answer.await.unwrap().unwrap();
        }

        // The tenant is full: in one statement, the update passes and the new record not.
        let (saves, answers): (Vec<_>, Vec<_>) = [("a", "a2"), ("c", "c1")]
            .map(|(k, c)| pending(k, c))
            .into_iter()
            .unzip();
        writer(&db, 2).write(saves, permit().await).await;
        let [updated, refused] = <[_; 2]>::try_from(answers).unwrap();
        assert_eq!(updated.await.unwrap().unwrap().client_id, "a2");
        assert!(matches!(
            refused.await.unwrap(),
            Err(ApiError::QuotaExceeded(2))
        ));
        assert_eq!(held(&db).await, 2);

        // A deleted record makes room (the triggers keep the count).
        Entity::delete_many().exec(&db).await.unwrap();
        assert_eq!(held(&db).await, 0);
        let (save, answer) = pending("c", "c2");
        writer(&db, 2).write(vec![save], permit().await).await;
        assert_eq!(answer.await.unwrap().unwrap().client_id, "c2");
        assert_eq!(held(&db).await, 1);
    }

    /// The records counted for the test's tenant.
    async fn held(db: &DatabaseConnection) -> i64 {
        entity::tenant_record_count::Entity::find()
            .one(db)
            .await
            .unwrap()
            .map_or(0, |count| count.records)
    }

    /// The batches `next_batch` makes of `saves`, as client ids.
    fn batches(saves: Vec<PendingSave>) -> Vec<Vec<String>> {
        let mut waiting: VecDeque<_> = saves.into();
        let mut batches = Vec::new();
        while !waiting.is_empty() {
            batches.push(client_ids(&next_batch(&mut waiting)));
        }
        batches
    }

    #[test]
    fn a_key_is_in_a_batch_once_and_its_saves_stay_in_order() {
        let mut saves = Vec::new();
        let mut answers = Vec::new();
        for (ipack, client) in [
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("gone", "g"),
            ("a", "a3"),
        ] {
            let (save, answered) = pending(ipack, client);
            saves.push(save);
            answers.push(answered);
        }
        drop(answers.remove(3)); // that caller gave up before its save was written

        assert_eq!(batches(saves), [vec!["a1", "b1"], vec!["a2"], vec!["a3"]]);
    }

    #[test]
    fn batches_are_powers_of_two_up_to_the_row_limit() {
        let (saves, _answers): (Vec<_>, Vec<_>) = (0..MAX_BATCH_ROWS + 13)
            .map(|n| pending(&format!("ipack-{n}"), &n.to_string()))
            .unzip();
        let batches = batches(saves);
        let sizes: Vec<_> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [32, 8, 4, 1]);
        let order: Vec<_> = batches.concat();
        let arrival: Vec<_> = (0..MAX_BATCH_ROWS + 13).map(|n| n.to_string()).collect();
        assert_eq!(order, arrival, "saves are written in arrival order");
    }

    #[tokio::test]
    async fn saves_sent_at_once_through_the_queue_are_all_written() {
        let db = database().await;
        let queue = SaveQueue::start(db.clone(), 1, 100);
        let mut saving = tokio::task::JoinSet::new();
        for n in 0..40 {
            let queue = queue.clone();
            // Ten keys, four saves each.
            let key = key(&format!("ipack-{}", n % 10));
            saving.spawn(async move {
                let row = row(&key, &format!("client-{n}"));
                queue.save(key, row).await
            });
        }
        while let Some(saved) = saving.join_next().await {
            saved.unwrap().unwrap();
        }
        assert_eq!(Entity::find().all(&db).await.unwrap().len(), 10);
    }
}
