//! Connection events for Space UIs (SPEC §12): the `connectionEvents` subscription over
//! the live bus, limited to the caller's tenant.

pub mod emit;
pub mod subscription;
pub mod types;
