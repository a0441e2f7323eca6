//! `subscription { connectionEvents(integrationPackInstanceId) }` (SPEC §12): the live
//! events of the caller's tenant, optionally of one iPack instance. A subscriber that
//! falls behind the bus is ended and its connection marked slow (the transport closes
//! it) instead of being buffered without limit.

use async_graphql::futures_util::Stream;
use async_graphql::futures_util::stream;
use async_graphql::{Context, ErrorExtensions as _, Result, Subscription};
use events::{SlowConsumer, Subscriber};
use tokio::sync::broadcast::error::RecvError;

use super::types::ConnectionEvent;
use crate::context::{self, Tenant};
use crate::{Code, Services};

/// The subscription root of connection events.
#[derive(Default)]
pub struct ConnectionEventsSubscription;

#[Subscription]
impl ConnectionEventsSubscription {
    /// Events of the caller's tenant's connections as they happen, from every replica;
    /// only those of `integrationPackInstanceId` when given.
    #[graphql(name = "connectionEvents")]
    async fn connection_events(
        &self,
        ctx: &Context<'_>,
        integration_pack_instance_id: Option<String>,
    ) -> Result<impl Stream<Item = ConnectionEvent> + use<>> {
        let tenant = context::caller(ctx)?.tenant().clone();
        let subscriber = Services::of(ctx)?
            .events
            .bus()
            .subscribe(tenant.account_id())
            .map_err(|limit| {
                async_graphql::Error::new(limit.to_string())
                    .extend_with(|_, ext| ext.set("code", Code::RateLimited.as_str()))
            })?;
        let live = Live {
            subscriber,
            tenant,
            instance: integration_pack_instance_id,
            slow: ctx.data_opt::<SlowConsumer>().cloned(),
        };
        Ok(stream::unfold(live, |mut live| async move {
            let event = live.next().await?;
            Some((event, live))
        }))
    }
}

/// One subscription's state.
struct Live {
    subscriber: Subscriber,
    tenant: Tenant,
    instance: Option<String>,
    slow: Option<SlowConsumer>,
}

impl Live {
    /// The next event for this subscriber; `None` ends the subscription.
    async fn next(&mut self) -> Option<ConnectionEvent> {
        loop {
            match self.subscriber.receiver.recv().await {
                Ok(live) => {
                    let event = &live.event;
                    let wanted = event
                        .belongs_to(self.tenant.space_guid(), self.tenant.account_id())
                        && self
                            .instance
                            .as_deref()
                            .is_none_or(|id| id == event.data.integration_pack_instance_id);
                    if wanted {
                        return Some(ConnectionEvent::from(event));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "a subscriber fell behind; disconnecting it");
                    if let Some(slow) = &self.slow {
                        slow.trip();
                    }
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}
