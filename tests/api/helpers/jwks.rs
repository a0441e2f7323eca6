//! A JWKS endpoint double: a real HTTP server on 127.0.0.1:0 serving a key set the test
//! can change, and counting how often it was fetched.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[derive(Clone, Default)]
struct Shared {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

/// A running JWKS double; stops when dropped.
pub struct JwksServer {
    /// `http://127.0.0.1:<port>/.well-known/jwks.json`.
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    /// Serves `keys` (public JWKs, see [`super::tokens::public_jwk`]).
    pub async fn start(keys: Vec<Value>) -> Self {
        let shared = Shared {
            keys: Arc::new(Mutex::new(keys)),
            fetches: Arc::default(),
        };
        let router = Router::new()
            .route("/.well-known/jwks.json", get(serve))
            .with_state(shared.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { url, shared, task }
    }

    /// Replaces the served key set.
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.shared.keys.lock().unwrap() = keys;
    }

    /// How many times the set was fetched.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(State(shared): State<Shared>) -> axum::Json<Value> {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let keys = shared.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys }))
}
