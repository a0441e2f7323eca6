//! `webhook_deliveries`: the delivery state of one event to one webhook URL (SPEC §12).
//! Pending while `next_attempt_at` is set; delivered when `delivered_at` is.

use sea_orm::entity::prelude::*;

/// One event's delivery to one URL.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// Attempts started so far (a claim counts as one).
    pub attempts: i32,
    /// When the next attempt is due; `None` once delivered or given up.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<i32>,
    /// Why the last attempt failed (fixed text, never a response body).
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
