//! The data of a connection event (SPEC §12): what changed, for which record, and the
//! connection's status afterwards. Serialised, it is the webhook body
//! `{"type", "timestamp", "data": {…}}`; it never holds a secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of event (SPEC §12 "Types").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// A generation or a completed callback stored a token.
    #[serde(rename = "connection.token_generated")]
    TokenGenerated,
    /// The connection entered `REFRESH_FAILING`.
    #[serde(rename = "connection.refresh_failed")]
    RefreshFailed,
    /// The connection entered `NEEDS_REAUTHORIZATION`.
    #[serde(rename = "connection.needs_reauthorization")]
    NeedsReauthorization,
    /// Back to `ACTIVE` from a failing state.
    #[serde(rename = "connection.recovered")]
    Recovered,
    /// The record was deleted.
    #[serde(rename = "connection.deleted")]
    Deleted,
}

impl EventType {
    /// The webhook `type`, e.g. `connection.token_generated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenGenerated => "connection.token_generated",
            Self::RefreshFailed => "connection.refresh_failed",
            Self::NeedsReauthorization => "connection.needs_reauthorization",
            Self::Recovered => "connection.recovered",
            Self::Deleted => "connection.deleted",
        }
    }
}

/// A connection's state (SPEC §10), as the caller of [`crate::Events::enqueue`] knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

/// One event: the webhook body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionEvent {
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened (RFC 3339 in the body).
    pub timestamp: DateTime<Utc>,
    /// The record and its state.
    pub data: EventData,
}

/// The record an event is about, and its state after the change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    pub space_guid: String,
    pub account_id: String,
    pub integration_pack_instance_id: String,
    pub process_id: String,
    pub env_id: String,
    pub connection_id: String,
    pub connection_status: ConnectionStatus,
    /// Why a connection is failing (`null` otherwise).
    pub error: Option<EventError>,
}

/// The failure behind `refresh_failed` / `needs_reauthorization`: a SPEC §7 code and the
/// IdP's `error` code, never its description or any token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventError {
    pub code: String,
    pub idp_error: Option<String>,
}

impl ConnectionEvent {
    /// An event of `kind` happening now.
    pub fn now(kind: EventType, data: EventData) -> Self {
        Self {
            kind,
            timestamp: Utc::now(),
            data,
        }
    }

    /// True when the event belongs to the tenant (Space guid + account) — SPEC §2.
    pub fn belongs_to(&self, space_guid: &str, account_id: &str) -> bool {
        self.data.space_guid == space_guid && self.data.account_id == account_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConnectionEvent {
        ConnectionEvent::now(
            EventType::TokenGenerated,
            EventData {
                space_guid: "s".into(),
                account_id: "a".into(),
                integration_pack_instance_id: "i".into(),
                process_id: "p".into(),
                env_id: "e".into(),
                connection_id: "c".into(),
                connection_status: ConnectionStatus::Active,
                error: None,
            },
        )
    }

    #[test]
    fn the_body_has_the_spec_shape() {
        let body = serde_json::to_value(sample()).unwrap();
        assert_eq!(body["type"], "connection.token_generated");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"]["integrationPackInstanceId"], "i");
        assert_eq!(body["data"]["connectionStatus"], "ACTIVE");
        assert!(body["data"]["error"].is_null());
        assert_eq!(body["data"].as_object().unwrap().len(), 8);
    }

    #[test]
    fn type_names_match_their_serialised_form() {
        for kind in [
            EventType::TokenGenerated,
            EventType::RefreshFailed,
            EventType::NeedsReauthorization,
            EventType::Recovered,
            EventType::Deleted,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
