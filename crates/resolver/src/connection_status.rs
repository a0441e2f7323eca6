//! The `ConnectionStatus` GraphQL enum (SPEC §10): the five states of a connection,
//! mirroring [`events::ConnectionStatus`] so events and records speak one language.
//! A leaf module: it imports nothing else of this crate.

use async_graphql::Enum;

/// What a Space UI, a runtime and an operator see of a connection (SPEC §10).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "events::ConnectionStatus")]
pub enum ConnectionStatus {
    /// No token held, none pending.
    NotConnected,
    /// An authorization-code flow was started and its callback has not completed.
    PendingAuthorization,
    /// A token is held and its last generation or refresh succeeded.
    Active,
    /// The last refresh failed for a transient reason; the valid token is still served.
    RefreshFailing,
    /// The IdP refused the grant itself, or the token expired and cannot be renewed.
    NeedsReauthorization,
}
