//! Connection limits (SPEC §8): a client that trickles its headers is disconnected
//! after `HEADER_READ_TIMEOUT_SECONDS`, and headers over `MAX_HEADER_BYTES` answer 431.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.limits.header_read_timeout_seconds = 1;
    })
    .await
    else {
        return;
    };
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buffer)).await;
    assert!(read.is_ok(), "the connection is still open after 10 s");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    // A prompt client is still served.
    let (status, _, _) = app::send(app.request(Method::GET, "/healthz")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_the_limit_answer_431() {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.limits.max_header_bytes = 16 * 1024;
    })
    .await
    else {
        return;
    };
    let big = "x".repeat(20 * 1024);
    let (status, _, _) =
        app::send(app.request(Method::GET, "/healthz").header("X-Big", &big)).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let small = "x".repeat(8 * 1024);
    let (status, _, _) =
        app::send(app.request(Method::GET, "/healthz").header("X-Big", &small)).await;
    assert_eq!(status, StatusCode::OK, "headers within the limit pass");
}
