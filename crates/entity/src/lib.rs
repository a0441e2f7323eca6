//! The sea-orm entities of spaces-oauth: one module per table, nothing else.

pub mod connector_details;
pub mod oauth_state;
pub mod oauth_token;
