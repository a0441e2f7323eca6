//! Subscriptions (SPEC §12) with a real WebSocket client: events of the caller's tenant
//! only, from a generation or a completed callback, across replicas on PostgreSQL;
//! `connection_init` checked like HTTP headers (4401 / 4403), and the socket closed
//! when its JWT expires.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::helpers::ws::{CONNECTION_EVENTS, Next, WsClient};
use crate::tokens::{ACCOUNT, connected, generate, generate_input, spawn};

backend_tests!(
    a_generation_reaches_the_subscriber_as_token_generated,
    a_completed_callback_reaches_the_subscriber,
    another_tenants_subscriber_sees_nothing,
    bad_or_missing_connection_init_credentials_close_with_4401_or_4403,
    the_socket_closes_with_4401_when_its_token_expires,
    the_older_graphql_ws_protocol_works_too,
    an_event_raised_on_replica_b_reaches_a_subscriber_on_replica_a,
);

const WAIT: Duration = Duration::from_secs(10);

async fn a_generation_reaches_the_subscriber_as_token_generated(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let mut socket = WsClient::open(app.address, &ui.token, SAMPLE_SPACE).await;
    socket.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    // Let the subscription start before the event is raised.
    tokio::time::sleep(Duration::from_millis(200)).await;
    generate_token(&ui, &idp, "c1").await;

    let event = socket.event(WAIT).await;
    assert_eq!(event["type"], "TOKEN_GENERATED");
    assert_eq!(event["connectionStatus"], "ACTIVE");
    assert_eq!(event["connectionId"], "c1");
    assert_eq!(
        event["integrationPackInstanceId"],
        key_input(SAMPLE_SPACE)["integrationPackInstanceId"]
    );
    assert!(!event.to_string().contains(PLANTED_SECRET));

    delete(&ui, "c1").await;
    let event = socket.event(WAIT).await;
    assert_eq!(event["type"], "DELETED");
    assert_eq!(event["connectionStatus"], "NOT_CONNECTED");
}

async fn a_completed_callback_reaches_the_subscriber(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let mut socket = WsClient::open(app.address, &ui.token, SAMPLE_SPACE).await;
    let instance = key_input(SAMPLE_SPACE)["integrationPackInstanceId"].clone();
    socket
        .subscribe("cb", CONNECTION_EVENTS, json!({ "id": instance }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = generate(&ui, generate_input(SAMPLE_SPACE, "AUTHORIZATION_CODE")).await;
    let url = body["data"]["generateIPackInstanceOauthAccessToken"]["authorizationUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = browser.get(&url).send().await.unwrap();
    let location = reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    let page = app
        .request(Method::GET, "/oauth2/callback")
        .query(&pairs)
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success());

    let event = socket.event(WAIT).await;
    assert_eq!(event["type"], "TOKEN_GENERATED");
    assert_eq!(event["integrationPackInstanceId"], instance);
}

async fn another_tenants_subscriber_sees_nothing(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let other_account = app.tenant("acct-other", SAMPLE_SPACE);
    let other_space = app.tenant(ACCOUNT, "another-space");
    let mut mine = WsClient::open(app.address, &ui.token, SAMPLE_SPACE).await;
    let mut theirs = WsClient::open(app.address, &other_account.token, SAMPLE_SPACE).await;
    let mut elsewhere = WsClient::open(app.address, &other_space.token, "another-space").await;
    for socket in [&mut mine, &mut theirs, &mut elsewhere] {
        socket.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    }
    // A subscription to another instance of the same tenant sees nothing either.
    let mut other_instance = WsClient::open(app.address, &ui.token, SAMPLE_SPACE).await;
    other_instance
        .subscribe("1", CONNECTION_EVENTS, json!({ "id": "another-instance" }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    generate_token(&ui, &idp, "c1").await;

    assert_eq!(mine.event(WAIT).await["type"], "TOKEN_GENERATED");
    for socket in [&mut theirs, &mut elsewhere, &mut other_instance] {
        assert_eq!(socket.next(Duration::from_millis(700)).await, Next::Nothing);
    }
}

async fn bad_or_missing_connection_init_credentials_close_with_4401_or_4403(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let good = app.token(ACCOUNT, Some(SAMPLE_SPACE));
    let expired = app.token_builder(ACCOUNT).expires_in(-600).sign();
    let forged = TokenBuilder::new(ACCOUNT, "not-the-server-secret").sign();
    let cases = [
        (json!({}), 4401),
        (json!({ "SPACE_GUID": SAMPLE_SPACE }), 4401),
        (
            json!({ "Authorization": "Bearer nonsense", "SPACE_GUID": SAMPLE_SPACE }),
            4401,
        ),
        (
            json!({ "Authorization": format!("Bearer {forged}"), "SPACE_GUID": SAMPLE_SPACE }),
            4401,
        ),
        (
            json!({ "Authorization": format!("Bearer {expired}"), "SPACE_GUID": SAMPLE_SPACE }),
            4401,
        ),
        (json!({ "Authorization": format!("Bearer {good}") }), 4403),
        (
            json!({ "Authorization": format!("Bearer {good}"), "SPACE_GUID": "bad guid!" }),
            4403,
        ),
        (
            json!({ "Authorization": format!("Bearer {good}"), "SPACE_GUID": "not-my-space" }),
            4403,
        ),
    ];
    for (payload, code) in cases {
        let mut socket = WsClient::connect(app.address, "graphql-transport-ws").await;
        assert_eq!(
            socket.init(payload.clone()).await,
            Next::Closed(Some(code)),
            "{payload}"
        );
    }
    // Key case is ignored.
    let mut socket = WsClient::connect(app.address, "graphql-transport-ws").await;
    let ack = socket
        .init(json!({ "authorization": format!("Bearer {good}"), "space_guid": SAMPLE_SPACE }))
        .await;
    assert_eq!(ack, Next::Message(json!({ "type": "connection_ack" })));
    // A subscription before connection_init is refused too.
    let mut socket = WsClient::connect(app.address, "graphql-transport-ws").await;
    socket.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    assert_eq!(socket.next(WAIT).await, Next::Closed(Some(4401)));
}

async fn the_socket_closes_with_4401_when_its_token_expires(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let token = app
        .token_builder(ACCOUNT)
        .space(SAMPLE_SPACE)
        .expires_in(2)
        .sign();
    let mut socket = WsClient::open(app.address, &token, SAMPLE_SPACE).await;
    socket.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    assert_eq!(socket.next(WAIT).await, Next::Closed(Some(4401)));
}

async fn the_older_graphql_ws_protocol_works_too(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    ui.save(save_input(SAMPLE_SPACE)).await;
    let mut socket = WsClient::connect(app.address, "graphql-ws").await;
    let ack = socket
        .init(
            json!({ "Authorization": format!("Bearer {}", ui.token), "SPACE_GUID": SAMPLE_SPACE }),
        )
        .await;
    assert_eq!(ack, Next::Message(json!({ "type": "connection_ack" })));
    socket.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let data = ui
        .data(DELETE, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(data["deleteIPackInstanceOauthConnectorDetails"], true);
    assert_eq!(socket.event(WAIT).await["type"], "DELETED");
}

async fn an_event_raised_on_replica_b_reaches_a_subscriber_on_replica_a(backend: Backend) {
    if backend == Backend::Sqlite {
        // One process per SQLite file: there is no replica B to hear from.
        return;
    }
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let replica_b = app.replica().await;
    let address_b = replica_b.address;
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let mut on_a = WsClient::open(app.address, &ui.token, SAMPLE_SPACE).await;
    on_a.subscribe("1", CONNECTION_EVENTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    crate::tokens::save_with_secret(&ui, &idp, "c1", PLANTED_SECRET).await;
    let input = generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS").with("connectionId", "c1");
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{address_b}/graphql"))
        .header("Authorization", format!("Bearer {}", ui.token))
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&json!({ "query": crate::tokens::GENERATE, "variables": { "input": input } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["generateIPackInstanceOauthAccessToken"]["status"], "GENERATED",
        "{body}"
    );
    let event = on_a.event(WAIT).await;
    assert_eq!(event["type"], "TOKEN_GENERATED");
    assert_eq!(event["connectionId"], "c1");
    replica_b.stop().await;
}
