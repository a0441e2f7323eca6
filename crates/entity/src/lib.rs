//! The sea-orm entities of spaces-oauth: one module per table, nothing else.

pub mod connector_details;
