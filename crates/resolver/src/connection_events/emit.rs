//! The events a change emits (SPEC §12), built from the record it changed. Writers call
//! [`emit`] inside the transaction of the change and `Events::committed` after it.

use entity::connector_details::Model as Record;
use events::{ConnectionEvent, ConnectionStatus, Enqueued, EventData, EventType, Events};
use sea_orm::ConnectionTrait;

use crate::error::ApiResult;

/// The event data of `record` in `status` (no error).
pub fn data(record: &Record, status: ConnectionStatus) -> EventData {
    EventData {
        space_guid: record.space_guid.clone(),
        account_id: record.account_id.clone(),
        integration_pack_instance_id: record.integration_pack_instance_id.clone(),
        process_id: record.process_id.clone(),
        env_id: record.env_id.clone(),
        connection_id: record.connection_id.clone(),
        connection_status: status,
        error: None,
    }
}

/// Writes a `kind` event about `record`, now in `status`, through `txn`.
pub async fn emit(
    events: &Events,
    txn: &impl ConnectionTrait,
    kind: EventType,
    record: &Record,
    status: ConnectionStatus,
) -> ApiResult<Enqueued> {
    let event = ConnectionEvent::now(kind, data(record, status));
    Ok(events.enqueue(txn, event).await?)
}
