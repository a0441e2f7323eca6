//! `connection_events`: the events outbox (SPEC §12), one row per change of a
//! connection, written in the same transaction as the change.

use sea_orm::entity::prelude::*;

/// One event; its id is the `webhook-id` of every delivery of it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connection_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `connection.token_generated`, `connection.deleted`, …
    pub event_type: String,
    /// The webhook body, exactly as sent on every attempt (never a secret).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
