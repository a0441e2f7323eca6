//! The sea-orm entities of spaces-oauth: one module per table, nothing else.

pub mod connection_event;
pub mod connector_details;
pub mod oauth_state;
pub mod oauth_token;
pub mod tenant_record_count;
pub mod webhook_delivery;
