//! The webhook delivery worker every replica runs (SPEC §12). It claims due deliveries
//! in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never claim the
//! same one; SQLite has one writer), pushing their next attempt past the call's time
//! limit, so a replica that dies mid-delivery leaves them due again later. Then it POSTs
//! each signed body and records the outcome: 2xx delivers; anything else is retried
//! along the [`Schedule`] with the same `webhook-id`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::{connection_event, webhook_delivery};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, DbBackend, DbErr, EntityTrait as _, QueryFilter as _,
};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::schedule::Schedule;
use crate::signing::WebhookSecret;
use crate::{metrics, outbox};

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// `WEBHOOK_URLS`; only deliveries to these are claimed.
    pub urls: Vec<String>,
    /// `WEBHOOK_SECRET`; nothing is delivered without one.
    pub secret: Option<WebhookSecret>,
    /// The outbound time limit of one delivery.
    pub timeout: Duration,
    /// How often due deliveries are looked for when nothing wakes the worker.
    pub poll_interval: Duration,
    /// When failed deliveries are tried again.
    pub schedule: Schedule,
    /// Deliveries claimed (and sent concurrently) at once.
    pub batch: u64,
}

/// Delivers until `shutdown` resolves. `arrivals` wakes it when an event was committed.
pub async fn run(
    db: DatabaseConnection,
    settings: DeliverySettings,
    arrivals: Arc<Notify>,
    shutdown: impl Future<Output = ()>,
) {
    let client = match reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("spaces-oauth-webhooks")
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; webhooks are not delivered");
            return;
        }
    };
    let worker = Worker {
        db,
        client,
        settings,
    };
    tokio::pin!(shutdown);
    let mut last_gauges: Option<Instant> = None;
    let mut last_clean_up: Option<Instant> = None;
    loop {
        let claimed = match worker.sweep().await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "webhook delivery sweep failed; retrying");
                0
            }
        };
        if last_gauges.is_none_or(|at| at.elapsed() >= metrics::GAUGE_PERIOD) {
            last_gauges = Some(Instant::now());
            metrics::update_gauges(&worker.db, &worker.settings.urls).await;
        }
        if last_clean_up.is_none_or(|at| at.elapsed() >= outbox::CLEAN_UP_PERIOD) {
            last_clean_up = Some(Instant::now());
            outbox::clean_up(&worker.db).await;
        }
        if claimed as u64 >= worker.settings.batch {
            continue;
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = arrivals.notified() => {}
            () = tokio::time::sleep(worker.settings.poll_interval) => {}
        }
    }
}

struct Worker {
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: DeliverySettings,
}

/// What one attempt came to.
enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String },
}

impl Worker {
    /// Claims due deliveries and attempts them; how many were claimed.
    async fn sweep(&self) -> Result<usize, DbErr> {
        let Some(secret) = &self.settings.secret else {
            return Ok(0);
        };
        if self.settings.urls.is_empty() {
            return Ok(0);
        }
        let claimed = self.claim().await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let event_ids: Vec<uuid::Uuid> = claimed.iter().map(|d| d.event_id).collect();
        let events: HashMap<uuid::Uuid, String> = connection_event::Entity::find()
            .filter(connection_event::Column::Id.is_in(event_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|event| (event.id, event.payload))
            .collect();
        let mut attempts = JoinSet::new();
        for delivery in &claimed {
            let Some(body) = events.get(&delivery.event_id) else {
                continue;
            };
            let request = self.request(secret, delivery, body);
            let id = delivery.id;
            attempts.spawn(async move { (id, send(request).await) });
        }
        let attempts_of: HashMap<uuid::Uuid, i32> =
            claimed.iter().map(|d| (d.id, d.attempts)).collect();
        while let Some(joined) = attempts.join_next().await {
            let Ok((id, outcome)) = joined else { continue };
            let attempts = attempts_of.get(&id).copied().unwrap_or(1);
            self.record(id, attempts, outcome).await?;
        }
        Ok(claimed.len())
    }

    /// Moves the next attempt of up to `batch` due deliveries past this attempt's time
    /// limit and counts the attempt, in one statement; the claimed rows.
    async fn claim(&self) -> Result<Vec<webhook_delivery::Model>, DbErr> {
        let lease = chrono::Duration::from_std(self.settings.timeout + Duration::from_secs(5))
            .unwrap_or(chrono::Duration::seconds(60));
        claim(
            self.db.get_database_backend(),
            &self.settings.urls,
            self.settings.batch,
            lease,
        )
        .exec_with_returning(&self.db)
        .await
    }

    fn request(
        &self,
        secret: &WebhookSecret,
        delivery: &webhook_delivery::Model,
        body: &str,
    ) -> reqwest::RequestBuilder {
        let id = delivery.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        self.client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", secret.sign(&id, timestamp, body))
            .body(body.to_owned())
    }

    async fn record(&self, id: uuid::Uuid, attempts: i32, outcome: Outcome) -> Result<(), DbErr> {
        use webhook_delivery::{Column, Entity};
        let now = Utc::now();
        let update = Entity::update_many()
            .filter(Column::Id.eq(id))
            .filter(Column::DeliveredAt.is_null());
        match outcome {
            Outcome::Delivered(status) => {
                metrics::delivered("delivered");
                update
                    .col_expr(Column::DeliveredAt, Expr::value(now))
                    .col_expr(
                        Column::NextAttemptAt,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    )
                    .col_expr(Column::LastStatus, Expr::value(i32::from(status)))
                    .col_expr(Column::LastError, Expr::value(Option::<String>::None))
                    .exec(&self.db)
                    .await?;
            }
            Outcome::Failed { status, error } => {
                let retry = self
                    .settings
                    .schedule
                    .after(u32::try_from(attempts).unwrap_or(u32::MAX));
                let next = retry.map(|delay| {
                    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
                });
                metrics::delivered(if next.is_some() {
                    "failed"
                } else {
                    "abandoned"
                });
                if next.is_none() {
                    tracing::warn!(delivery = %id, attempts, %error, "giving up on a webhook delivery");
                }
                update
                    .col_expr(Column::NextAttemptAt, Expr::value(next))
                    .col_expr(Column::LastStatus, Expr::value(status.map(i32::from)))
                    .col_expr(Column::LastError, Expr::value(Some(error)))
                    .exec(&self.db)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The claim statement of the delivery worker: up to `batch` due deliveries to `urls`,
/// soonest first, moved `lease` ahead with the attempt counted. A range of the
/// `webhook_deliveries_next_attempt_at` index; delivered rows (no next attempt) are
/// never walked.
pub fn claim(
    backend: DbBackend,
    urls: &[String],
    batch: u64,
    lease: chrono::Duration,
) -> sea_orm::UpdateMany<webhook_delivery::Entity> {
    use webhook_delivery::{Column, Entity};
    let now = Utc::now();
    let mut due = Query::select();
    due.column(Column::Id)
        .from(Entity)
        .and_where(Expr::col(Column::NextAttemptAt).lte(now))
        .and_where(Expr::col(Column::Url).is_in(urls.iter().cloned()))
        .order_by(Column::NextAttemptAt, sea_orm::Order::Asc)
        .limit(batch);
    if backend == DbBackend::Postgres {
        due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Entity::update_many()
        .col_expr(Column::NextAttemptAt, Expr::value(now + lease))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.in_subquery(due))
}

/// Sends one attempt. The answer's body is not read: only its status counts.
async fn send(request: reqwest::RequestBuilder) -> Outcome {
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            Outcome::Delivered(response.status().as_u16())
        }
        Ok(response) => Outcome::Failed {
            status: Some(response.status().as_u16()),
            error: format!("HTTP {}", response.status().as_u16()),
        },
        Err(error) => Outcome::Failed {
            status: None,
            error: if error.is_timeout() {
                "timed out".to_owned()
            } else if error.is_connect() {
                "could not connect".to_owned()
            } else {
                "request failed".to_owned()
            },
        },
    }
}
