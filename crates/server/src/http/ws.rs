//! GraphQL subscriptions over WebSocket at `/graphql/ws` (SPEC §12), with
//! `async-graphql-axum` speaking `graphql-transport-ws` and the older `graphql-ws`.
//!
//! This module owns what the protocol library leaves open: the first message must be
//! `connection_init`, whose payload carries `Authorization` and `SPACE_GUID` (any key
//! case) checked by the HTTP rules ([`super::auth`]); a refusal closes with 4401
//! (authentication) or 4403 (Space or tenant). The socket closes with 4401 when the
//! JWT expires, with 4429 when the account already holds its cap of sockets, and with
//! 1008 when the client reads too slowly (a send waiting over [`SEND_TIMEOUT`], or a
//! subscription falling behind the live bus) — nothing is buffered without limit.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::futures_util::{SinkExt as _, StreamExt as _, future, sink, stream};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use events::SlowConsumer;
use futures_util::stream::{SplitSink, SplitStream};
use tokio::sync::Mutex;

use super::auth::{SPACE_GUID_HEADER, authenticate_until};
use super::error::HttpError;
use crate::state::AppState;

/// How long a client has to send `connection_init` (graphql-transport-ws: 4408).
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one message may wait for the client to take it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes of SPEC §12 and graphql-transport-ws.
mod code {
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const TOO_MANY: u16 = 4429;
    pub const SLOW_CONSUMER: u16 = 1008;
}

type Sender = Arc<Mutex<SplitSink<WebSocket, Message>>>;

/// `GET /graphql/ws`: upgrades to a GraphQL WebSocket session.
pub async fn upgrade(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| session(state, socket, protocol))
}

async fn session(state: AppState, socket: WebSocket, protocol: GraphQLProtocol) {
    let (sender, mut receiver) = socket.split();
    let sender: Sender = Arc::new(Mutex::new(sender));
    let Ok(Some(first)) = tokio::time::timeout(INIT_TIMEOUT, first_message(&mut receiver)).await
    else {
        return close(
            &sender,
            code::INIT_TIMEOUT,
            "connection initialisation timeout",
        )
        .await;
    };
    let Some(payload) = connection_init_payload(&first) else {
        return close(
            &sender,
            code::UNAUTHORIZED,
            "connection_init must come first",
        )
        .await;
    };
    let (caller, expires_at) =
        match authenticate_until(&state.verifier, &payload_headers(&payload)).await {
            Ok(authenticated) => authenticated,
            Err(refusal) => return refuse(&sender, &refusal).await,
        };
    let Some(_socket_slot) = state.sockets.acquire(caller.tenant().account_id()) else {
        let reason = format!("at most {} sockets per account", state.sockets.max());
        return close(&sender, code::TOO_MANY, &reason).await;
    };
    let slow = SlowConsumer::default();
    let mut data = Data::default();
    data.insert(caller);
    data.insert(slow.clone());
    let on_timeout = slow.clone();
    let forward = sink::unfold(sender.clone(), move |sender, message: Message| {
        let on_timeout = on_timeout.clone();
        async move {
            let sent = tokio::time::timeout(SEND_TIMEOUT, sender.lock().await.send(message)).await;
            match sent {
                Ok(Ok(())) => Ok(sender),
                Ok(Err(error)) => Err(error),
                Err(_) => {
                    on_timeout.trip();
                    Err(axum::Error::new(std::io::Error::other("slow consumer")))
                }
            }
        }
    });
    // The `connection_init` read above goes to the protocol first, which acknowledges it.
    let input = stream::once(future::ready(Ok(first))).chain(receiver);
    let serve = GraphQLWebSocket::new_with_pair(forward, input, state.schema.clone(), protocol)
        .with_data(data)
        .serve();
    let expiry = until(expires_at);
    tokio::select! {
        () = serve => {
            // The client left (nothing to do), or a send timed out.
            if slow.is_tripped() {
                close(&sender, code::SLOW_CONSUMER, "slow consumer").await;
            }
        }
        () = expiry => close(&sender, code::UNAUTHORIZED, "the bearer token has expired").await,
        () = slow.tripped() => close(&sender, code::SLOW_CONSUMER, "slow consumer").await,
    }
}

/// The first text or binary message, skipping pings; `None` when the client left.
async fn first_message(receiver: &mut SplitStream<WebSocket>) -> Option<Message> {
    while let Some(Ok(message)) = receiver.next().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            return Some(message);
        }
        if let Message::Close(_) = message {
            return None;
        }
    }
    None
}

/// The payload of a `connection_init` message (an empty object when it has none).
fn connection_init_payload(message: &Message) -> Option<serde_json::Value> {
    let bytes: &[u8] = match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes,
        _ => return None,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    (value.get("type")? == "connection_init").then(|| {
        value
            .get("payload")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
    })
}

/// `Authorization` and `SPACE_GUID` from the payload (key case ignored; also inside a
/// `headers` object, where some clients put them) as the headers HTTP would carry.
fn payload_headers(payload: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let wanted = [
        (header::AUTHORIZATION, "authorization"),
        (HeaderName::from_static("space_guid"), SPACE_GUID_HEADER),
    ];
    let objects = [Some(payload), payload.get("headers")];
    for (name, key) in wanted {
        let value = objects.iter().flatten().find_map(|object| {
            object
                .as_object()?
                .iter()
                .find_map(|(k, v)| k.eq_ignore_ascii_case(key).then(|| v.as_str()).flatten())
        });
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

/// Closes with 4401 for authentication failures and 4403 for Space or tenant ones.
async fn refuse(sender: &Sender, refusal: &HttpError) {
    let code = if refusal.status == StatusCode::UNAUTHORIZED {
        code::UNAUTHORIZED
    } else {
        code::FORBIDDEN
    };
    close(
        sender,
        code,
        &format!("{}: {}", refusal.code, refusal.message),
    )
    .await;
}

/// Sends a close frame (best effort, bounded by [`SEND_TIMEOUT`]).
async fn close(sender: &Sender, code: u16, reason: &str) {
    // A close reason is at most 123 bytes (RFC 6455 §5.5).
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..end].into(),
    };
    let send = async { sender.lock().await.send(Message::Close(Some(frame))).await };
    let _ = tokio::time::timeout(SEND_TIMEOUT, send).await;
}

/// Resolves when the token expiring at `expires_at` (Unix seconds) has expired.
async fn until(expires_at: Option<i64>) {
    let Some(expires_at) = expires_at else {
        return std::future::pending().await;
    };
    let left = expires_at.saturating_sub(chrono::Utc::now().timestamp());
    let left = u64::try_from(left).unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(left)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_keys_match_in_any_case_and_inside_headers() {
        let headers = payload_headers(&serde_json::json!({
            "authorization": "Bearer x",
            "headers": { "Space_Guid": "s-1" },
        }));
        assert_eq!(headers[header::AUTHORIZATION], "Bearer x");
        assert_eq!(headers[SPACE_GUID_HEADER], "s-1");
        assert!(payload_headers(&serde_json::json!({ "Authorization": 3 })).is_empty());
    }

    #[test]
    fn only_connection_init_opens_a_session() {
        let init = Message::Text(r#"{"type":"connection_init"}"#.into());
        assert_eq!(connection_init_payload(&init), Some(serde_json::json!({})));
        let subscribe = Message::Text(r#"{"type":"subscribe","id":"1"}"#.into());
        assert_eq!(connection_init_payload(&subscribe), None);
    }
}
