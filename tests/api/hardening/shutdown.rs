//! SPEC §9 with the real binary: SIGTERM stops accepting connections, lets a request in
//! flight finish and exits 0; a request that outlives `SHUTDOWN_GRACE_SECONDS` is
//! abandoned and the process still exits 0. Also: `LOG_FORMAT=json` lines carry the
//! request id and no secret.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use super::raw::{TrickledRequest, body_json};
use crate::helpers::backend::{self, TestDatabase};
use crate::helpers::binary::ServerProcess;
use crate::helpers::*;

backend_tests!(
    sigterm_lets_a_request_in_flight_finish_then_exits_0,
    sigterm_abandons_requests_after_the_grace_period_and_exits_0,
);

const SECRET: &str = "test-hs256-shutdown-secret";
const CLIENT_SECRET: &str = "shutdown-test-client-secret-never-logged";

struct Running {
    process: ServerProcess,
    database: TestDatabase,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend, grace_seconds: &str) -> Option<Running> {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(backend, &dir).await?;
    let vault = resolver::Vault::generate_key_entry("k1");
    let data_dir = dir.path().join("data");
    let process = ServerProcess::start(&[
        ("DATABASE_URL", database.url.as_str()),
        ("DATA_DIR", data_dir.to_str().unwrap()),
        ("JWT_HS256_SECRET", SECRET),
        ("VAULT_KEYS", vault.as_str()),
        ("LOG_FORMAT", "json"),
        ("SHUTDOWN_GRACE_SECONDS", grace_seconds),
    ])
    .await
    .unwrap_or_else(|error| panic!("spaces-oauth did not start: {error}"));
    Some(Running {
        process,
        database,
        _dir: dir,
    })
}

fn save_body() -> String {
    let input = save_input(SAMPLE_SPACE).with("clientSecret", CLIENT_SECRET);
    json!({ "query": SAVE, "variables": { "input": input } }).to_string()
}

/// Waits until the server counts `n` requests in flight (the scrape itself is one).
async fn wait_for_in_flight(process: &ServerProcess, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(process.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let in_flight = text
            .lines()
            .find_map(|l| l.strip_prefix("spaces_oauth_http_requests_in_flight "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        if in_flight >= f64::from(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the request never got in flight:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sigterm_lets_a_request_in_flight_finish_then_exits_0(backend: Backend) {
    let Some(Running {
        process,
        database,
        _dir,
    }) = start(backend, "20").await
    else {
        return;
    };
    let token = TokenBuilder::new("acct-1", SECRET)
        .space(SAMPLE_SPACE)
        .sign();
    let authorization = format!("Bearer {token}");
    let headers = [
        ("Authorization", authorization.as_str()),
        ("SPACE_GUID", SAMPLE_SPACE),
    ];
    let address = process.address.parse().unwrap();

    // JSON logs: every line parses, the request's line carries its id, no secret.
    let response = reqwest::Client::new()
        .post(process.url("/graphql"))
        .header("Authorization", &authorization)
        .header("SPACE_GUID", SAMPLE_SPACE)
        .header("Content-Type", "application/json")
        .body(save_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = process.stderr();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == request_id.as_str()),
        "no log line with request id {request_id}:\n{logs}"
    );
    assert!(
        !logs.contains(CLIENT_SECRET) && !logs.contains(&token),
        "{logs}"
    );

    // A save whose body is still arriving when SIGTERM comes.
    let body = save_body();
    let in_flight = TrickledRequest::start(address, &headers, &body, 30).await;
    wait_for_in_flight(&process, 2).await;
    let stopping = tokio::spawn(process.stop());

    // New connections are refused while the in-flight request is still open.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, raw) = in_flight.finish().await;
    assert_eq!(status, 200, "{raw}");
    assert!(body_json(&raw)["data"]["saveIPackInstanceOauthConnectorDetails"]["id"].is_string());
    let exit = stopping.await.unwrap();
    assert_eq!(exit.code(), Some(0), "{exit}");

    let db = backend::connect(&database.url).await.unwrap();
    let stored = entity::connector_details::Entity::find()
        .count(&db)
        .await
        .unwrap();
    assert_eq!(stored, 1, "the answered saves are stored");
}

async fn sigterm_abandons_requests_after_the_grace_period_and_exits_0(backend: Backend) {
    let Some(Running { process, .. }) = start(backend, "1").await else {
        return;
    };
    let token = TokenBuilder::new("acct-1", SECRET)
        .space(SAMPLE_SPACE)
        .sign();
    let authorization = format!("Bearer {token}");
    let headers = [
        ("Authorization", authorization.as_str()),
        ("SPACE_GUID", SAMPLE_SPACE),
    ];
    let address = process.address.parse().unwrap();
    let body = save_body();
    // The body never completes; the request time limit (15 s) is far away.
    let _stalled = TrickledRequest::start(address, &headers, &body, 30).await;
    wait_for_in_flight(&process, 2).await;
    let started = Instant::now();
    let exit = process.stop().await;
    assert_eq!(exit.code(), Some(0), "{exit}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "stopped after {took:?}"
    );
}
