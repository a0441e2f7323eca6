//! The `ConnectionStatus` GraphQL enum (SPEC §10): the five states of a connection,
//! mirroring [`events::ConnectionStatus`] so events and records speak one language, and
//! their stored form (the GraphQL names, e.g. `NEEDS_REAUTHORIZATION`).
//! A leaf module: it imports nothing else of this crate.

use async_graphql::Enum;

/// What a Space UI, a runtime and an operator see of a connection (SPEC §10).
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

impl ConnectionStatus {
    /// Every status, in SPEC §10 order.
    pub const ALL: [Self; 5] = [
        Self::NotConnected,
        Self::PendingAuthorization,
        Self::Active,
        Self::RefreshFailing,
        Self::NeedsReauthorization,
    ];

    /// The stored and GraphQL name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "NOT_CONNECTED",
            Self::PendingAuthorization => "PENDING_AUTHORIZATION",
            Self::Active => "ACTIVE",
            Self::RefreshFailing => "REFRESH_FAILING",
            Self::NeedsReauthorization => "NEEDS_REAUTHORIZATION",
        }
    }

    /// The status stored as `text`; an unknown text (a newer server's) reads as
    /// `NOT_CONNECTED` rather than failing the record.
    pub fn parse(text: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .unwrap_or(Self::NotConnected)
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionStatus;

    #[test]
    fn every_status_reads_back_from_its_stored_name() {
        for status in ConnectionStatus::ALL {
            assert_eq!(ConnectionStatus::parse(status.as_str()), status);
        }
        assert_eq!(
            ConnectionStatus::parse("SOMETHING_NEW"),
            ConnectionStatus::NotConnected
        );
    }
}
