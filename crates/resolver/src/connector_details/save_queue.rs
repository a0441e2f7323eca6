//! Saves that arrive together are written together.
//!
//! Most of what a save costs the database is per statement, not per row: the round trip,
//! the commit and its WAL flush, the connection's trip through the pool. So saves go
//! through a queue served by a few writers. A save that finds a writer free is written
//! at once, alone; saves that arrive while every writer is busy wait for the next free
//! one, which upserts them all with one multi-row `INSERT … ON CONFLICT … RETURNING`.
//! There is no timer: nothing waits that need not, and batches grow only with the load.
//!
//! A batch holds each record key once (a second save of the same key waits for the next
//! batch, so the later save still wins) and is sorted by key, so two batches running at
//! once lock their rows in the same order. If a batch fails for any reason but the
//! database being unreachable, its saves are retried one by one: one bad row never fails
//! another caller's save.

use std::collections::VecDeque;
use std::sync::Arc;

use entity::connector_details::{ActiveModel, Entity, Model};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, RuntimeErr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::service::{on_conflict, upsert};
use crate::error::{ApiError, ApiResult, is_connection_failure};
use crate::record_key::RecordKey;

/// The most rows one statement upserts (16 columns each, far below any bind limit).
const MAX_BATCH_ROWS: usize = 32;

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
    /// Starts the queue with `writers` statements at most in flight (1 on SQLite, which
    /// has one writer anyway). Must be called within the Tokio runtime.
    pub fn start(db: DatabaseConnection, writers: usize) -> Self {
        let (saves, queue) = mpsc::unbounded_channel();
        let writers = Arc::new(Semaphore::new(writers.max(1)));
        tokio::spawn(dispatch(db, queue, writers));
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
    db: DatabaseConnection,
    mut queue: mpsc::UnboundedReceiver<PendingSave>,
    writers: Arc<Semaphore>,
) {
    // Saves whose key was already in the batch being built; they start the next one.
    let mut deferred = VecDeque::new();
    loop {
        // Wait for a free writer first: meanwhile, arriving saves gather in the queue.
        let Ok(writer) = Arc::clone(&writers).acquire_owned().await else {
            return;
        };
        let first = match deferred.pop_front() {
            Some(save) => save,
            None => match queue.recv().await {
                Some(save) => save,
                None => return,
            },
        };
        let batch = gather(first, &mut deferred, &mut queue);
        if !batch.is_empty() {
            tokio::spawn(write(db.clone(), batch, writer));
        }
    }
}

/// `first` and whatever else is waiting, each key once, at most `MAX_BATCH_ROWS`.
fn gather(
    first: PendingSave,
    deferred: &mut VecDeque<PendingSave>,
    queue: &mut mpsc::UnboundedReceiver<PendingSave>,
) -> Vec<PendingSave> {
    let mut batch = Vec::new();
    let mut later = Vec::new();
    admit(first, &mut batch, &mut later);
    for save in std::mem::take(deferred) {
        if batch.len() < MAX_BATCH_ROWS {
            admit(save, &mut batch, &mut later);
        } else {
            later.push(save);
        }
    }
    while batch.len() < MAX_BATCH_ROWS {
        let Ok(save) = queue.try_recv() else { break };
        admit(save, &mut batch, &mut later);
    }
    // In arrival order, so that of two saves of one key the later is written last.
    deferred.extend(later);
    batch
}

/// Adds `save` to `batch`, or to `later` when its key is already there.
fn admit(save: PendingSave, batch: &mut Vec<PendingSave>, later: &mut Vec<PendingSave>) {
    // A caller that gave up (request timeout) before its save was sent is not written.
    if save.answer.is_closed() {
        return;
    }
    if batch.iter().any(|queued| queued.key == save.key) {
        later.push(save);
    } else {
        batch.push(save);
    }
}

/// Writes one batch and answers each of its saves.
async fn write(db: DatabaseConnection, mut batch: Vec<PendingSave>, _writer: OwnedSemaphorePermit) {
    metrics::histogram!("spaces_oauth_save_batch_rows").record(batch.len() as f64);
    if batch.len() == 1 {
        for save in batch {
            let saved = upsert(&db, save.row).await;
            let _ = save.answer.send(saved);
        }
        return;
    }
    batch.sort_by(|a, b| a.key.cmp(&b.key));
    let rows: Vec<ActiveModel> = batch.iter().map(|save| save.row.clone()).collect();
    match Entity::insert_many(rows)
        .on_conflict(on_conflict())
        .exec_with_returning(&db)
        .await
    {
        Ok(saved) => answer_each(batch, saved),
        Err(err) if is_connection_failure(&err) => {
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
            for save in batch {
                let saved = upsert(&db, save.row).await;
                let _ = save.answer.send(saved);
            }
        }
    }
}

/// Matches the returned records to the saves by key.
fn answer_each(batch: Vec<PendingSave>, mut saved: Vec<Model>) {
    for save in batch {
        let record = saved
            .iter()
            .position(|model| save.key.is_of(model))
            .map(|at| saved.swap_remove(at));
        let _ = save.answer.send(record.ok_or_else(|| {
            ApiError::internal(std::io::Error::other("a batched save returned no record"))
        }));
    }
}

fn stopped() -> ApiError {
    ApiError::internal(std::io::Error::other("the save queue has stopped"))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveValue::Set, ConnectOptions, Database};

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
            id: Set(crate::random_uuid()),
            space_guid: Set(key.space_guid.clone()),
            account_id: Set(key.account_id.clone()),
            integration_pack_instance_id: Set(key.integration_pack_instance_id.clone()),
            process_id: Set(key.process_id.clone()),
            env_id: Set(key.env_id.clone()),
            connection_id: Set(key.connection_id.clone()),
            client_id: Set(client_id.into()),
            client_secret: Set("dummyClientSecret".into()),
            sealed_client_secret: Set(None),
            oauth_connector_details: Set("{}".into()),
            sealed_details_secrets: Set(None),
            token_settings_fingerprint: Set(String::new()),
            is_token_generated: Set(false),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
        }
    }

    /// A save of `ipack` with `client_id`, and where its answer arrives.
    fn pending(ipack: &str, client_id: &str) -> (PendingSave, oneshot::Receiver<ApiResult<Model>>) {
        let key = key(ipack);
        let (answer, answered) = oneshot::channel();
        let row = row(&key, client_id);
        (PendingSave { key, row, answer }, answered)
    }

    async fn writer() -> OwnedSemaphorePermit {
        Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap()
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
        write(db.clone(), saves, writer().await).await;

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
        let taken = upsert(&db, row(&key("x"), "client-x")).await.unwrap();
        // A new key under an id already in use: the batch statement fails on it.
        let (mut clash, clash_answer) = pending("y", "client-y");
        clash.row.id = Set(taken.id);
        let (fine, fine_answer) = pending("z", "client-z");
        write(db.clone(), vec![clash, fine], writer().await).await;

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
    async fn a_key_is_in_a_batch_once_and_its_saves_stay_in_order() {
        let (queue_in, mut queue) = mpsc::unbounded_channel();
        let mut answers = Vec::new();
        for (ipack, client) in [
            ("a", "a1"),
            ("b", "b1"),
            ("a", "a2"),
            ("gone", "g"),
            ("a", "a3"),
        ] {
            let (save, answered) = pending(ipack, client);
            queue_in.send(save).unwrap();
            answers.push(answered);
        }
        drop(answers.remove(3)); // that caller gave up before its save was written

        let mut deferred = VecDeque::new();
        let mut batches = Vec::new();
        while let Some(first) = deferred.pop_front().or_else(|| queue.try_recv().ok()) {
            batches.push(client_ids(&gather(first, &mut deferred, &mut queue)));
        }
        assert_eq!(batches, [vec!["a1", "b1"], vec!["a2"], vec!["a3"]]);
    }

    #[tokio::test]
    async fn a_batch_holds_at_most_the_row_limit() {
        let (queue_in, mut queue) = mpsc::unbounded_channel();
        let mut answers = Vec::new();
        for n in 0..MAX_BATCH_ROWS + 8 {
            let (save, answered) = pending(&format!("ipack-{n}"), "client");
            queue_in.send(save).unwrap();
            answers.push(answered);
        }
        let mut deferred = VecDeque::new();
        let first = queue.try_recv().unwrap();
        assert_eq!(
            gather(first, &mut deferred, &mut queue).len(),
            MAX_BATCH_ROWS
        );
        let first = queue.try_recv().unwrap();
        assert_eq!(gather(first, &mut deferred, &mut queue).len(), 8);
        assert!(deferred.is_empty());
    }

    #[tokio::test]
    async fn saves_sent_at_once_through_the_queue_are_all_written() {
        let db = database().await;
        let queue = SaveQueue::start(db.clone(), 1);
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
