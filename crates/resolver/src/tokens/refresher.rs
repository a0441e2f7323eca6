//! The background refresher (SPEC §6, §10): every replica runs one. Each sweep scans the
//! tokens due ([`due::scan`], fair across tenants, terminal ones left out), queues them
//! per tenant, and starts refreshes in turns across tenants with a bound in flight
//! ([`FairQueue`]); a refresh that finishes frees its slot at once, not at the next
//! sweep. Each refresh runs under its lease, so one replica does each. Sweeps also mark
//! expired tokens nothing can renew and purge expired pending authorizations.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use entity::connector_details::Entity as Records;
use entity::oauth_token::Model as Token;
use sea_orm::EntityTrait;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::due::{self, Scan, TenantKey};
use super::fair_queue::FairQueue;
use super::refresh::{self, Outcome};
use super::{states, store};
use crate::Services;
use crate::details::fingerprint;
use crate::error::ApiResult;

/// Duration of one sweep's scans and clean-ups, in seconds (not the refreshes it
/// starts, which run on their own): it must not grow with the number of records.
pub const SWEEP_DURATION_METRIC: &str = "spaces_oauth_refresh_sweep_duration_seconds";

/// When and how much the refresher works.
#[derive(Clone, Debug)]
pub struct RefresherSettings {
    /// Time between sweeps.
    pub interval: Duration,
    /// Tokens expiring within this are refreshed.
    pub ahead: Duration,
    /// Most tokens looked at per sweep.
    pub batch: u64,
    /// Most refreshes in flight on this replica; one tenant gets at most half.
    pub concurrency: usize,
}

/// Sweeps every `settings.interval` until `shutdown` resolves. Refreshes still in
/// flight then complete on their own (they run detached, see [`refresh::attempt`]).
pub async fn run(
    services: Services,
    settings: RefresherSettings,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut queue = FairQueue::new(settings.concurrency);
    let mut running: JoinSet<(TenantKey, Uuid)> = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {
                let started = std::time::Instant::now();
                let outcome = sweep(&services, &settings, &mut queue).await;
                metrics::histogram!(SWEEP_DURATION_METRIC)
                    .record(started.elapsed().as_secs_f64());
                if let Err(error) = outcome {
                    tracing::warn!(%error, "refresh sweep failed");
                }
            }
            Some(finished) = running.join_next() => {
                if let Ok((tenant, id)) = finished {
                    queue.done(&tenant, id);
                }
            }
        }
        while let Some((tenant, id)) = queue.start_next() {
            let (services, ahead) = (services.clone(), settings.ahead);
            running.spawn(async move {
                refresh_one(&services, id, ahead).await;
                (tenant, id)
            });
        }
    }
}

/// One sweep: queues what is due, marks what cannot be renewed, purges old states.
pub async fn sweep(
    services: &Services,
    settings: &RefresherSettings,
    queue: &mut FairQueue<TenantKey>,
) -> ApiResult<()> {
    let db = &services.db;
    let scan = Scan {
        ahead: settings.ahead,
        // More of one tenant than it may run at once would only wait in memory.
        per_tenant: settings.concurrency.max(1) as u64,
        batch: settings.batch,
    };
    let mut queued = 0;
    for token in due::scan(db, scan).await? {
        queued += u32::from(queue.push(token.tenant(), token.connector_id));
    }
    for token in due::unrenewable(db, settings.batch).await? {
        let Some(record) = Records::find_by_id(token.connector_id).one(db).await? else {
            continue;
        };
        // A token of older settings is no longer the record's: nothing to mark.
        if fingerprint::matches(&token.fingerprint, &record.token_settings_fingerprint) {
            store::mark_unrenewable(db, &services.events, &record, &token).await?;
        }
    }
    states::purge_expired(db).await?;
    if queued > 0 {
        tracing::debug!(
            queued,
            running = queue.running(),
            waiting = queue.waiting(),
            "refresh sweep"
        );
    }
    Ok(())
}

/// Refreshes `connector_id` if it is still due; failures are recorded on the token row
/// (and logged) by [`refresh::attempt`].
async fn refresh_one(services: &Services, connector_id: Uuid, ahead: Duration) {
    let ahead = chrono::Duration::from_std(ahead).unwrap_or(chrono::Duration::MAX);
    let needed = move |t: &Token| {
        let now = Utc::now();
        t.expires_at
            .is_some_and(|e| e <= now.checked_add_signed(ahead).unwrap_or(now))
            && t.next_attempt_at.is_none_or(|next| next <= now)
    };
    let result = async {
        let Some(record) = Records::find_by_id(connector_id).one(&services.db).await? else {
            return Ok(None);
        };
        refresh::attempt(services, &record, needed).await.map(Some)
    }
    .await;
    match result {
        Ok(Some(Outcome::Refreshed(_))) => {
            tracing::debug!(connector = %connector_id, "background refresh done");
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(connector = %connector_id, %error, "background refresh failed")
        }
    }
}
