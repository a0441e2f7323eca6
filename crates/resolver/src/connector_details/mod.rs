//! Connector details (SPEC §3, §4): save, read, list and delete the records a Space UI
//! and iPack installers persist.

pub mod mutation;
pub mod query;
pub mod save_queue;
pub mod service;
pub mod types;
