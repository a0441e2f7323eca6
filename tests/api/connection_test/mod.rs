//! Test Connection (SPEC §12) against the IdP double and a small API endpoint on
//! 127.0.0.1: each step's success and failure, the outbound guards on `testURL`, and
//! no token or secret in any answer or log line.

mod guards;
mod steps;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::idp_double::{self, IdpDouble, Knobs};
use crate::tokens::{ACCOUNT, details, spawn};

/// `testIPackInstanceOauthConnection(input: $input)` with every field.
pub const TEST: &str = "mutation Test($input: IPackInstanceOauthConnectorKeyInput!) { testIPackInstanceOauthConnection(input: $input) { ok steps { name ok code message durationMs } } }";

/// An API the connection's token is for: answers `GET /me` with a settable status and
/// records the `Authorization` header of every request.
#[derive(Clone)]
pub struct ApiDouble {
    address: SocketAddr,
    status: Arc<AtomicU16>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ApiDouble {
    /// Starts one on 127.0.0.1:0 answering 200.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = Self {
            address: listener.local_addr().unwrap(),
            status: Arc::new(AtomicU16::new(200)),
            seen: Arc::default(),
        };
        let state = api.clone();
        let router = Router::new().route(
            "/me",
            get(move |headers: HeaderMap| async move {
                let authorization = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                state.seen.lock().unwrap().push(authorization);
                let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
                (status, r#"{"id":"me"}"#)
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        api
    }

    /// `http://127.0.0.1:<port>/me`.
    pub fn url(&self) -> String {
        format!("http://{}/me", self.address)
    }

    /// Answer `status` from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// The `Authorization` header of every request so far.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A TCP listener on 127.0.0.1:0 that only counts the connections made to it.
pub struct Tripwire {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Tripwire {
    /// Starts one.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { port, accepted }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Saves the sample key with `details`, the double's client id and `secret` as the
/// client secret (`dummyValue` for none).
pub async fn save(ui: &Tenant<'_>, details: &str, secret: &str) {
    ui.save(
        save_input(SAMPLE_SPACE)
            .with("oauthConnectorDetails", details)
            .with("clientId", idp_double::CLIENT_ID)
            .with("clientSecret", secret),
    )
    .await;
}

/// The doubles and a server, with the sample key saved as a client-credentials
/// connection whose `testURL` is the API double's.
pub struct Setup {
    pub idp: IdpDouble,
    pub api: ApiDouble,
    pub app: TestApp,
}

impl Setup {
    /// Starts the IdP double with `knobs`, the API double and a server; saves the
    /// connection with `secret` as its client secret (`dummyValue` for none).
    pub async fn client_credentials(backend: Backend, knobs: Knobs, secret: &str) -> Option<Self> {
        let idp = IdpDouble::start_with(knobs).await;
        let api = ApiDouble::start().await;
        let app = spawn(backend).await?;
        let extra = json!({ "grantType": "CLIENT_CREDENTIALS", "testURL": api.url() });
        save(
            &app.tenant(ACCOUNT, SAMPLE_SPACE),
            &details(&idp, extra),
            secret,
        )
        .await;
        Some(Self { idp, api, app })
    }

    /// The Space UI of the connection's tenant.
    pub fn ui(&self) -> Tenant<'_> {
        self.app.tenant(ACCOUNT, SAMPLE_SPACE)
    }
}

/// Runs the test on the sample key; the whole response body.
pub async fn test_connection(ui: &Tenant<'_>) -> Value {
    ui.graphql(TEST, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await
        .2
}

/// The answer of a test that ran (no GraphQL error).
#[track_caller]
pub fn answer(body: &Value) -> &Value {
    assert!(body.get("errors").is_none(), "{body}");
    &body["data"]["testIPackInstanceOauthConnection"]
}

/// `(name, ok, code)` of each step.
pub fn outline(answer: &Value) -> Vec<(String, bool, Option<String>)> {
    answer["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap().to_owned(),
                step["ok"].as_bool().unwrap(),
                step["code"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// `(name, true, None)`.
pub fn passed(name: &str) -> (String, bool, Option<String>) {
    (name.to_owned(), true, None)
}

/// `(name, false, Some(code))`.
pub fn failed(name: &str, code: &str) -> (String, bool, Option<String>) {
    (name.to_owned(), false, Some(code.to_owned()))
}

/// The message of the step called `name`.
pub fn message<'a>(answer: &'a Value, name: &str) -> &'a str {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"] == name)
        .and_then(|step| step["message"].as_str())
        .unwrap_or_else(|| panic!("no message for step {name}: {answer}"))
}
