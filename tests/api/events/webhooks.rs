//! Webhooks (SPEC §12) against a receiver on 127.0.0.1: signed by the Standard Webhooks
//! scheme, retried with the same `webhook-id` until a 2xx, delivered after a restart,
//! delivered once by two replicas, never carrying a secret.

use std::time::Duration;

use entity::webhook_delivery;
use sea_orm::EntityTrait as _;
use serde_json::json;

use super::*;
use crate::helpers::binary::{ServerProcess, free_port};
use crate::helpers::webhooks::{Receiver, url_on};
use crate::tokens::{ACCOUNT, runtime};

backend_tests!(
    a_receiver_failing_twice_gets_the_same_signed_event_three_times_and_never_again,
    an_event_raised_while_the_receiver_is_down_is_delivered_after_a_restart,
    two_replicas_deliver_each_event_once,
    a_malformed_webhook_secret_stops_the_start_without_quoting_it,
);

async fn deliveries(app: &TestApp) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .all(app.db())
        .await
        .unwrap()
}

async fn a_receiver_failing_twice_gets_the_same_signed_event_three_times_and_never_again(
    backend: Backend,
) {
    let receiver = Receiver::start(&[500, 500]).await;
    let idp = IdpDouble::start().await;
    let Some(app) = spawn_with_webhooks(backend, vec![receiver.url()], |_| {}).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    generate_token(&ui, &idp, "c1").await;

    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3, "{received:?}");
    // Nothing more arrives once it was delivered.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let id = received[0].id();
    for delivery in &received {
        assert_eq!(delivery.id(), id, "every retry carries the same webhook-id");
        assert!(
            delivery.verifies_with(WEBHOOK_SECRET),
            "{:?}",
            delivery.headers
        );
        assert!(!delivery.verifies_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
        assert_eq!(delivery.headers["content-type"], "application/json");
        assert_eq!(
            delivery.body, received[0].body,
            "the body is the same each time"
        );
    }
    let body = received[0].json();
    assert_eq!(body["type"], "connection.token_generated");
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(
        body["data"],
        json!({
            "spaceGuid": SAMPLE_SPACE,
            "accountId": ACCOUNT,
            "integrationPackInstanceId": key_input(SAMPLE_SPACE)["integrationPackInstanceId"],
            "processId": key_input(SAMPLE_SPACE)["processId"],
            "envId": key_input(SAMPLE_SPACE)["envId"],
            "connectionId": "c1",
            "connectionStatus": "ACTIVE",
            "error": null,
        })
    );

    // No secret in any payload: neither the client secret nor the access token.
    let key = key_input(SAMPLE_SPACE).with("connectionId", "c1");
    let token = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .data(crate::tokens::TOKEN, json!({ "input": key }))
        .await["iPackInstanceOauthAccessToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    for delivery in &received {
        assert!(!delivery.body.contains(PLANTED_SECRET));
        assert!(!delivery.body.contains(&token));
        assert!(!format!("{:?}", delivery.headers).contains(PLANTED_SECRET));
    }
    let events = entity::connection_event::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert!(!events[0].payload.contains(PLANTED_SECRET) && !events[0].payload.contains(&token));

    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].attempts, 3);
    assert_eq!(rows[0].last_status, Some(200));
    assert!(rows[0].delivered_at.is_some() && rows[0].next_attempt_at.is_none());
}

/// Runs on the real binary: configured through `WEBHOOK_URLS` / `WEBHOOK_SECRET`,
/// stopped with SIGTERM and started again.
async fn an_event_raised_while_the_receiver_is_down_is_delivered_after_a_restart(backend: Backend) {
    let port = free_port();
    let Some(mut app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = {
        let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
        ui.save(save_input(SAMPLE_SPACE)).await;
        ui.token
    };
    app.stop().await;

    let vault_keys = {
        use secrecy::ExposeSecret as _;
        app.config
            .vault_keys
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned()
    };
    let url = url_on(port);
    let envs = [
        ("DATABASE_URL", app.database().url.as_str()),
        ("JWT_HS256_SECRET", app.hs256_secret.as_str()),
        ("VAULT_KEYS", vault_keys.as_str()),
        ("WEBHOOK_URLS", url.as_str()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("WEBHOOK_RETRY_SCALE", "0.001"),
        ("WEBHOOK_POLL_INTERVAL_SECONDS", "0.05"),
    ];
    let server = ServerProcess::start(&envs).await.unwrap();
    let response = reqwest::Client::new()
        .post(server.url("/graphql"))
        .header("Authorization", format!("Bearer {token}"))
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&json!({ "query": DELETE, "variables": { "input": key_input(SAMPLE_SPACE) } }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["deleteIPackInstanceOauthConnectorDetails"], true,
        "{body}"
    );
    // The receiver is down: the first attempt fails.
    let failed = eventually(Duration::from_secs(10), || async {
        let rows = deliveries(&app).await;
        rows.first().filter(|row| row.last_error.is_some()).cloned()
    })
    .await
    .expect("a first attempt was made");
    assert!(failed.delivered_at.is_none() && failed.next_attempt_at.is_some());
    assert!(server.stop().await.success());

    let receiver = Receiver::start_on(port, &[]).await;
    let server = ServerProcess::start(&envs).await.unwrap();
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        received.len(),
        1,
        "delivered after the restart: {:?}\n{}",
        deliveries(&app).await,
        server.stderr()
    );
    assert_eq!(received[0].json()["type"], "connection.deleted");
    assert_eq!(
        received[0].json()["data"]["connectionStatus"],
        "NOT_CONNECTED"
    );
    assert_eq!(received[0].id(), failed.event_id.to_string());
    assert!(received[0].verifies_with(WEBHOOK_SECRET));
    // This process's own recorder (no other test shares it): one delivery, no failure.
    let metrics = eventually(Duration::from_secs(10), || async {
        let text = reqwest::get(server.url("/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains(r#"spaces_oauth_webhook_deliveries_total{outcome="delivered"} 1"#)
            .then_some(text)
    })
    .await
    .expect("the delivery is counted");
    let failed = metrics
        .lines()
        .find_map(|l| l.strip_prefix(r#"spaces_oauth_webhook_deliveries_total{outcome="failed"} "#))
        .map_or(0.0, |v| v.trim().parse::<f64>().unwrap());
    assert_eq!(failed, 0.0, "{metrics}");
    server.stop().await;
}

async fn two_replicas_deliver_each_event_once(backend: Backend) {
    const EVENTS: usize = 12;
    let receiver = Receiver::start(&[]).await;
    let Some(app) = spawn_with_webhooks(backend, vec![receiver.url()], |config| {
        config.rate_limit_rps = 0;
    })
    .await
    else {
        return;
    };
    let replica_b = app.replica().await;

    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    for n in 0..EVENTS {
        let connection = format!("c{n}");
        ui.save(save_input(SAMPLE_SPACE).with("connectionId", connection.as_str()))
            .await;
        delete(&ui, &connection).await;
    }
    let received = receiver.wait_for(EVENTS, Duration::from_secs(15)).await;
    assert_eq!(received.len(), EVENTS);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let mut ids: Vec<String> = received.iter().map(|r| r.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(received.len(), EVENTS, "each event is delivered once");
    assert_eq!(ids.len(), EVENTS);
    replica_b.stop().await;
}

async fn a_malformed_webhook_secret_stops_the_start_without_quoting_it(backend: Backend) {
    let planted = "whsec_planted!!not-base64";
    let refused = TestApp::try_spawn_with(backend, |config| {
        config.webhook_urls = vec!["http://127.0.0.1:9/hook".into()];
        config.webhook_secret = Some(planted.to_owned().into());
    })
    .await;
    let Some(refused) = refused else { return };
    let error = refused.err().expect("the start is refused");
    assert!(error.contains("WEBHOOK_SECRET"), "{error}");
    assert!(!error.contains("planted"), "{error}");

    let without = TestApp::try_spawn_with(backend, |config| {
        config.webhook_urls = vec!["http://127.0.0.1:9/hook".into()];
    })
    .await
    .unwrap();
    assert!(without.err().unwrap().contains("WEBHOOK_SECRET"));
}
