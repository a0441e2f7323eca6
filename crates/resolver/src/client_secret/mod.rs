//! The Space UI's "Encrypt Client Secret" and "Reset Client Secret" buttons (SPEC §3, §5).

pub mod mutation;
pub mod service;
