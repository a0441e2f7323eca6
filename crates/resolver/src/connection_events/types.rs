//! GraphQL types of connection events (SPEC §12).

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};

use crate::connection_status::ConnectionStatus;

/// What happened to a connection (the webhook event types).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "events::EventType")]
pub enum ConnectionEventType {
    /// A generation or a completed callback stored a token.
    TokenGenerated,
    /// A refresh failed for a transient reason.
    RefreshFailed,
    /// The connection needs the user to authorize again.
    NeedsReauthorization,
    /// Back to `ACTIVE` from a failing state.
    Recovered,
    /// The record was deleted.
    Deleted,
}

/// One event of a connection of the caller's tenant.
#[derive(SimpleObject, Clone, Debug)]
pub struct ConnectionEvent {
    #[graphql(name = "type")]
    pub kind: ConnectionEventType,
    pub occurred_at: DateTime<Utc>,
    pub integration_pack_instance_id: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    pub connection_status: ConnectionStatus,
}

impl From<&events::ConnectionEvent> for ConnectionEvent {
    fn from(event: &events::ConnectionEvent) -> Self {
        Self {
            kind: event.kind.into(),
            occurred_at: event.timestamp,
            integration_pack_instance_id: event.data.integration_pack_instance_id.clone(),
            process_id: event.data.process_id.clone(),
            env_id: event.data.env_id.clone(),
            connection_id: event.data.connection_id.clone(),
            connection_status: event.data.connection_status.into(),
        }
    }
}
