//! SPEC §7/§8 with PostgreSQL going away under load: while it is down, requests fail
//! fast with `DATABASE_UNAVAILABLE` (HTTP 503) and `/readyz` answers 503; when it
//! comes back the server recovers by itself; every save that was answered is stored.
//! The database is a throwaway cluster of this test's own, crashed and restarted.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::cluster::Cluster;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_requests_get_503_then_the_server_recovers_and_no_answered_save_is_lost()
 {
    let Some(cluster) = tokio::task::spawn_blocking(Cluster::start).await.unwrap() else {
        return;
    };
    let url = cluster.url();
    // The server gets the throwaway cluster; the database the harness creates for the
    // test (on the shared server) stays unused.
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| {
        c.database_url = Some(url);
        c.db_acquire_timeout_seconds = 1;
    })
    .await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let save = |n: usize| {
        let input = save_input(SAMPLE_SPACE).with("connectionId", format!("c{n}"));
        alice.graphql(SAVE, json!({ "input": input }))
    };

    // Saves answered before and around the crash.
    let mut answered = Vec::new();
    for n in 0..5 {
        let (status, _, body) = save(n).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        answered.push(n);
    }
    let crash = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(100));
        cluster.crash();
        cluster
    });
    let mut n = 5;
    while !crash.is_finished() {
        let (status, _, body) = save(n).await;
        match status {
            StatusCode::OK => answered.push(n),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(
                    error_code(&body).as_deref(),
                    Some("DATABASE_UNAVAILABLE"),
                    "{body}"
                )
            }
            other => panic!("unexpected {other} during the crash: {body}"),
        }
        n += 1;
    }
    let cluster = crash.await.unwrap();

    // Down: fast 503s with the code, readiness fails, liveness holds.
    for _ in 0..3 {
        let started = Instant::now();
        let (status, headers, body) = save(1000).await;
        assert_error(
            (status, &body),
            StatusCode::SERVICE_UNAVAILABLE,
            "DATABASE_UNAVAILABLE",
        );
        assert!(headers.contains_key("retry-after"));
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
    }
    let (status, _, body) = alice
        .graphql(FIND, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_error(
        (status, &body),
        StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
    );
    let (status, _, _) = app::send(app.request(Method::GET, "/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = app::send(app.request(Method::GET, "/healthz")).await;
    assert_eq!(status, StatusCode::OK);

    // Back: the server recovers without a restart.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.resume();
        cluster
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = app::send(app.request(Method::GET, "/readyz")).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _, body) = save(2000).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for n in &answered {
        let key = key_input(SAMPLE_SPACE).with("connectionId", format!("c{n}"));
        let found = alice.find(key).await;
        assert_eq!(
            found["connectionId"],
            format!("c{n}"),
            "answered save c{n} was lost"
        );
    }
    drop(cluster);
}
