//! The background refresher (SPEC §6): every replica runs one; each sweep picks the
//! tokens expiring within the look-ahead whose backoff has passed and whose lease is
//! free, and refreshes each under its lease, so one replica does each refresh.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use entity::connector_details::Entity as Records;
use entity::oauth_token::{Column, Entity};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::refresh::{self, Outcome};
use super::states;
use super::types::GrantType;
use crate::Services;
use crate::error::ApiResult;

/// When and how much the refresher works.
#[derive(Clone, Debug)]
pub struct RefresherSettings {
    /// Time between sweeps.
    pub interval: Duration,
    /// Tokens expiring within this are refreshed.
    pub ahead: Duration,
    /// Most tokens looked at per sweep.
    pub batch: u64,
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub refreshed: u32,
    pub failed: u32,
}

/// Sweeps every `settings.interval` until `shutdown` resolves.
pub async fn run(
    services: Services,
    settings: RefresherSettings,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        match sweep(&services, &settings).await {
            Ok(report) if report != SweepReport::default() => {
                tracing::debug!(
                    refreshed = report.refreshed,
                    failed = report.failed,
                    "refresh sweep"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "refresh sweep failed"),
        }
    }
}

/// One sweep over the tokens that are due.
pub async fn sweep(services: &Services, settings: &RefresherSettings) -> ApiResult<SweepReport> {
    let now = Utc::now();
    let ahead = chrono::Duration::from_std(settings.ahead).unwrap_or(chrono::Duration::MAX);
    let horizon = now.checked_add_signed(ahead).unwrap_or(now);
    let due = Entity::find()
        .filter(Column::ExpiresAt.lte(horizon))
        .filter(
            Condition::any()
                .add(Column::NextAttemptAt.is_null())
                .add(Column::NextAttemptAt.lte(now)),
        )
        .filter(
            Condition::any()
                .add(Column::LeaseOwner.is_null())
                .add(Column::LeaseExpiresAt.lt(now)),
        )
        .filter(
            Condition::any()
                .add(Column::SealedRefreshToken.is_not_null())
                .add(Column::GrantType.eq(GrantType::ClientCredentials.as_str())),
        )
        .order_by_asc(Column::ExpiresAt)
        .limit(settings.batch)
        .all(&services.db)
        .await?;
    let mut report = SweepReport::default();
    for token in due {
        let Some(record) = Records::find_by_id(token.connector_id)
            .one(&services.db)
            .await?
        else {
            continue;
        };
        let needed = |t: &entity::oauth_token::Model| {
            let now = Utc::now();
            t.expires_at
                .is_some_and(|e| e <= now.checked_add_signed(ahead).unwrap_or(now))
                && t.next_attempt_at.is_none_or(|next| next <= now)
        };
        match refresh::attempt(services, &record, needed).await? {
            Outcome::Refreshed(_) => report.refreshed += 1,
            Outcome::Failed(..) => report.failed += 1,
            Outcome::Current(_) | Outcome::Busy | Outcome::Gone => {}
        }
    }
    states::purge_expired(&services.db).await?;
    Ok(report)
}
