//! A webhook receiver on 127.0.0.1 (a small axum server): it records every delivery and
//! answers the statuses it is told to, then 200. Signatures are checked with the
//! Standard Webhooks reference library.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::net::TcpListener;

/// A base64 32-byte key in Standard Webhooks form, for tests.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";

/// One delivery as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    /// The `webhook-id` header.
    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// True when the signature verifies with `secret` by the reference algorithm.
    pub fn verifies_with(&self, secret: &str) -> bool {
        let webhook = standardwebhooks::Webhook::new(secret).unwrap();
        webhook.verify(self.body.as_bytes(), &self.headers).is_ok()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    statuses: VecDeque<u16>,
}

/// The receiver; stops when dropped.
pub struct Receiver {
    pub address: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// A receiver on a fresh port answering `statuses` first, then 200.
    pub async fn start(statuses: &[u16]) -> Self {
        Self::start_on(0, statuses).await
    }

    /// Like [`start`](Self::start), on `port`.
    pub async fn start_on(port: u16, statuses: &[u16]) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            statuses: statuses.iter().copied().collect(),
        }));
        let router = Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            address,
            inner,
            task,
        }
    }

    /// The URL deliveries go to.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.address)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until at least `count` deliveries arrived (at most `within`).
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received { headers, body });
    let status = inner.statuses.pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// The `http://127.0.0.1:<port>/hook` URL of a receiver that is not running yet.
pub fn url_on(port: u16) -> String {
    format!("http://127.0.0.1:{port}/hook")
}
