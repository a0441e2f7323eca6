//! Two server instances on one database with short-lived tokens and rotating single-use
//! refresh tokens, many connections over several tenants (SPEC §6, §9, §10): reads on
//! both and both background refreshers race for the same tokens, yet each refresh is
//! done by one replica — no refresh token is presented twice, no refresh fails, and no
//! connection ends in `NEEDS_REAUTHORIZATION`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::*;
use crate::idp_double::{Knobs, PASSWORD, USERNAME};

backend_tests!(two_replicas_refresh_each_token_once_and_never_fail);

const CONNECTIONS: [&str; 3] = ["c1", "c2", "c3"];
const TENANTS: [&str; 3] = ["acct-r1", "acct-r2", "acct-r3"];

fn key(connection: &str) -> Value {
    key_input(SAMPLE_SPACE).with("connectionId", connection)
}

/// Reads the token of `connection` through the server at `address`.
async fn read(
    client: &reqwest::Client,
    address: SocketAddr,
    token: &str,
    connection: &str,
) -> Value {
    client
        .post(format!("http://{address}/graphql"))
        .header("Authorization", format!("Bearer {token}"))
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&json!({ "query": TOKEN, "variables": { "input": key(connection) } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn two_replicas_refresh_each_token_once_and_never_fail(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 2,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn_with(backend, |config| {
        config.refresh_interval_seconds = 0.2;
        config.refresh_ahead_seconds = 1;
        config.replica_id = Some("replica-a".into());
        // The readers loop as fast as they can; the per-account limit is not under test.
        config.rate_limit_rps = 0;
    })
    .await
    else {
        return;
    };
    let mut config_b = app.config.clone();
    config_b.replica_id = Some("replica-b".into());
    let second = server::build(&config_b)
        .await
        .expect("the second replica starts");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address_b = listener.local_addr().unwrap();
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let replica_b = tokio::spawn(server::serve(second, listener, async {
        let _ = stopped_b.await;
    }));

    for account in TENANTS {
        let ui = app.tenant(account, SAMPLE_SPACE);
        for connection in CONNECTIONS {
            save_with_secret(&ui, &idp, connection, crate::idp_double::CLIENT_SECRET).await;
            let body = generate(
                &ui,
                key(connection)
                    .with("grantType", "PASSWORD")
                    .with("username", USERNAME)
                    .with("password", PASSWORD),
            )
            .await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    }

    // Two readers per replica for four seconds: every read finds a token expiring within
    // 60 s and refreshes it, while both background refreshers do the same.
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut readers = Vec::new();
    for (n, address) in [app.address, app.address, address_b, address_b]
        .into_iter()
        .enumerate()
    {
        let tokens: Vec<String> = TENANTS
            .iter()
            .map(|account| runtime(&app, account, SAMPLE_SPACE).token)
            .collect();
        readers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut reads = 0;
            while Instant::now() < deadline {
                let connection = CONNECTIONS[(n + reads) % CONNECTIONS.len()];
                let token = &tokens[(n + reads / CONNECTIONS.len()) % tokens.len()];
                let body = read(&client, address, token, connection).await;
                assert!(body.get("errors").is_none(), "read failed: {body}");
                reads += 1;
            }
            reads
        }));
    }
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.unwrap();
    }
    // Then only the background refreshers keep the tokens alive.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let presented = idp.presented_refresh_tokens();
    let mut unique = presented.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        presented.len(),
        "a refresh token was presented twice"
    );
    assert_eq!(idp.refused_refreshes(), 0);
    assert!(
        presented.len() >= 18,
        "only {} refreshes for {reads} reads",
        presented.len()
    );

    use sea_orm::EntityTrait;
    let rows = entity::oauth_token::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), CONNECTIONS.len() * TENANTS.len());
    let now = chrono::Utc::now();
    for row in rows {
        assert!(row.last_error.is_none(), "{:?}", row.last_error);
        assert!(
            row.expires_at.unwrap() > now,
            "the background refresh fell behind"
        );
    }

    for record in app.records().await {
        assert_eq!(
            record.connection_status, "ACTIVE",
            "{}",
            record.connection_id
        );
    }

    let _ = stop_b.send(());
    replica_b.await.unwrap().unwrap();
}
