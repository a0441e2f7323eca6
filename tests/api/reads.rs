//! SPEC §3: reads of records by key — the read-back and the runtime's token read — are
//! one statement each, and reads that arrive together share one (PostgreSQL): every
//! caller must still get the record of its own tenant and key, and see every write
//! answered before it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

backend_tests!(
    reads_sent_at_once_each_answer_their_own_tenant_and_key,
    a_read_after_each_save_or_delete_sees_it,
);

/// Rounds of 32 read-backs sent at once, from two tenants whose records have the same
/// key fields, and of keys that hold no record: each caller gets its own tenant's
/// record or null, and on PostgreSQL some statement read more than one key.
async fn reads_sent_at_once_each_answer_their_own_tenant_and_key(backend: Backend) {
    // The real binary: the read-batch histogram it checks is its own, not shared.
    let Some(app) = TestApp::spawn_process(backend, &[]).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let bob = app.tenant("acct-2", SAMPLE_SPACE);
    let key =
        |n: usize| key_input(SAMPLE_SPACE).with("integrationPackInstanceId", format!("ipack-{n}"));
    for n in 0..16 {
        for (tenant, name) in [(&alice, "alice"), (&bob, "bob")] {
            tenant
                .save(
                    save_input(SAMPLE_SPACE)
                        .with("integrationPackInstanceId", format!("ipack-{n}"))
                        .with("clientId", format!("{name}-{n}")),
                )
                .await;
        }
    }
    let before = read_batches(&app).await;
    for _round in 0..5 {
        // 16 keys each for alice and bob, the same fields, and 8 keys with no record.
        let mut sent = Vec::new();
        for n in 0..24 {
            for (tenant, name) in [(&alice, "alice"), (&bob, "bob")] {
                if n >= 16 && name == "bob" {
                    continue;
                }
                let request = tenant.app.graphql_request(
                    Some(&tenant.token),
                    Some(&tenant.space),
                    json!({ "query": FIND, "variables": { "input": key(n) } }),
                );
                sent.push((n, name, tokio::spawn(app::send(request))));
            }
        }
        for (n, name, answer) in sent {
            let (status, _, body) = answer.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(body.get("errors").is_none(), "{body}");
            let record = &body["data"]["IPackInstanceOAuthConnectorDetails"];
            if n < 16 {
                assert_eq!(record["clientId"], format!("{name}-{n}"), "{body}");
            } else {
                assert_eq!(record, &Value::Null, "no record at ipack-{n}: {body}");
            }
        }
        if backend == Backend::Sqlite {
            // SQLite reads one key per statement on the pool: no batches to look for.
            return;
        }
        let after = read_batches(&app).await;
        if after.0 - before.0 > after.1 - before.1 {
            return;
        }
    }
    panic!("no read statement carried more than one key in 5 rounds of 40 reads at once");
}

/// Each read-back right after a save or delete answers what that write left, on the
/// connection a reader holds between reads as on the pool.
async fn a_read_after_each_save_or_delete_sees_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for round in 0..20 {
        let saved = alice
            .save(save_input(SAMPLE_SPACE).with("clientId", format!("client-{round}")))
            .await;
        let found = alice.find(key_input(SAMPLE_SPACE)).await;
        assert_eq!(
            found["clientId"],
            format!("client-{round}"),
            "round {round}"
        );
        assert_eq!(found["id"], saved["id"]);
        if round % 5 == 4 {
            alice
                .data(DELETE, json!({ "input": key_input(SAMPLE_SPACE) }))
                .await;
            assert_eq!(alice.find(key_input(SAMPLE_SPACE)).await, Value::Null);
        }
    }
}

/// The `spaces_oauth_read_batch_keys` histogram's sum and count.
async fn read_batches(app: &TestApp) -> (f64, f64) {
    let text = app.metrics().await;
    let value = |name: &str| metric_sample(&text, name);
    (
        value("spaces_oauth_read_batch_keys_sum"),
        value("spaces_oauth_read_batch_keys_count"),
    )
}
