//! A real WebSocket client for `/graphql/ws` (tokio-tungstenite): connect with a
//! subprotocol, send `connection_init`, subscribe, read events and close codes.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The subscription of SPEC §12 with every field.
pub const CONNECTION_EVENTS: &str = "subscription E($id: String) { connectionEvents(integrationPackInstanceId: $id) { type occurredAt integrationPackInstanceId processId envId connectionId connectionStatus } }";

/// How a session ended or what it received.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Message(Value),
    Closed(Option<u16>),
    Nothing,
}

/// One open socket.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: &'static str,
}

impl WsClient {
    /// Opens `ws://<address>/graphql/ws` with `protocol` (`graphql-transport-ws` or
    /// `graphql-ws`).
    pub async fn connect(address: std::net::SocketAddr, protocol: &'static str) -> Self {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        Self { socket, protocol }
    }

    /// Sends one JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// Sends `connection_init` with `payload` and reads the answer.
    pub async fn init(&mut self, payload: Value) -> Next {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        self.next(Duration::from_secs(5)).await
    }

    /// Opens a session as `token` in `space`, expecting the acknowledgement.
    pub async fn open(address: std::net::SocketAddr, token: &str, space: &str) -> Self {
        let mut client = Self::connect(address, "graphql-transport-ws").await;
        let ack = client
            .init(json!({ "Authorization": format!("Bearer {token}"), "SPACE_GUID": space }))
            .await;
        assert_eq!(ack, Next::Message(json!({ "type": "connection_ack" })));
        client
    }

    /// Starts `query` as subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        self.send(json!({ "type": kind, "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next message (pings answered), a close, or nothing within `within`.
    pub async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let Ok(message) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                return Next::Nothing;
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    if value["type"] == "ka" {
                        continue;
                    }
                    return Next::Message(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Next::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Next::Closed(None),
            }
        }
    }

    /// The next event payload (`payload.data.connectionEvents`); panics on anything else.
    pub async fn event(&mut self, within: Duration) -> Value {
        match self.next(within).await {
            Next::Message(message) => {
                assert!(
                    message["type"] == "next" || message["type"] == "data",
                    "{message}"
                );
                message["payload"]["data"]["connectionEvents"].clone()
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
}
