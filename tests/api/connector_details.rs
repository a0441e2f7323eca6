//! SPEC §3: save (upsert), read back, list and delete connector details.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

backend_tests!(
    saving_twice_with_the_same_key_keeps_the_id_and_updates_the_fields,
    a_saved_record_reads_back_and_an_unknown_key_reads_as_null,
    the_list_holds_every_record_of_the_instance_and_nothing_else,
    delete_answers_true_then_false_and_the_record_is_gone,
    created_at_stays_and_updated_at_moves_on_each_save,
    is_token_generated_is_stored_as_the_save_sends_it,
    variables_declared_with_the_documented_type_names_work,
    saves_sent_at_once_each_land_on_their_own_record,
    saves_sent_at_once_to_two_writers_each_land_on_their_own_record,
    six_255_character_non_ascii_key_parts_save_and_read_back,
    the_list_pages_with_first_and_after_oldest_first,
    a_save_beyond_the_tenant_quota_is_refused_but_updates_pass,
    the_quota_counts_records_saved_before_the_count_existed,
);

const PAGE: &str = "query Page($id: String!, $first: Int, $after: String) { iPackInstanceOauthConnectorDetailsList(integrationPackInstanceId: $id, first: $first, after: $after) { id connectionId } }";

async fn the_list_pages_with_first_and_after_oldest_first(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let mut saved = Vec::new();
    for connection in ["a", "b", "c", "d", "e"] {
        saved.push(
            alice
                .save(save_input(SAMPLE_SPACE).with("connectionId", connection))
                .await["id"]
                .clone(),
        );
    }
    let id = save_input(SAMPLE_SPACE)["integrationPackInstanceId"].clone();
    let page = |first: Value, after: Value| {
        alice.graphql(PAGE, json!({ "id": id, "first": first, "after": after }))
    };
    let ids = |body: &Value| -> Vec<Value> {
        body["data"]["iPackInstanceOauthConnectorDetailsList"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    let (_, _, body) = page(json!(2), Value::Null).await;
    assert_eq!(ids(&body), saved[..2], "{body}");
    let (_, _, body) = page(json!(2), saved[1].clone()).await;
    assert_eq!(ids(&body), saved[2..4], "{body}");
    let (_, _, body) = page(json!(2), saved[3].clone()).await;
    assert_eq!(ids(&body), saved[4..], "{body}");
    let (_, _, body) = page(Value::Null, Value::Null).await;
    assert_eq!(ids(&body), saved, "the default page holds 100: {body}");
    for bad in [json!(0), json!(501), json!(-1)] {
        let (_, _, body) = page(bad.clone(), Value::Null).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_INPUT"),
            "{bad}: {body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "first", "{body}");
    }
    let (_, _, body) = page(json!(500), json!("not-an-id")).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "after", "{body}");
}

async fn a_save_beyond_the_tenant_quota_is_refused_but_updates_pass(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_records_per_tenant = 2).await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for connection in ["1", "2"] {
        alice
            .save(save_input(SAMPLE_SPACE).with("connectionId", connection))
            .await;
    }
    let third = save_input(SAMPLE_SPACE).with("connectionId", "3");
    refused_over_quota(&alice, third.clone()).await;
    assert_eq!(app.records().await.len(), 2, "nothing was written");
    // Updating an existing record is not a new one.
    alice
        .save(
            save_input(SAMPLE_SPACE)
                .with("connectionId", "2")
                .with("clientId", "B"),
        )
        .await;
    // Another tenant has its own quota.
    app.tenant("acct-2", SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE))
        .await;
    // A deleted record makes room for a new one, and only one.
    let first = key_input(SAMPLE_SPACE).with("connectionId", "1");
    let deleted = alice.data(DELETE, json!({ "input": first })).await;
    assert_eq!(deleted["deleteIPackInstanceOauthConnectorDetails"], true);
    alice.save(third).await;
    refused_over_quota(&alice, save_input(SAMPLE_SPACE).with("connectionId", "4")).await;
}

/// Saves `input` as `tenant` and expects `QUOTA_EXCEEDED` (in a 200 answer).
async fn refused_over_quota(tenant: &Tenant<'_>, input: Value) {
    let (status, _, body) = tenant.graphql(SAVE, json!({ "input": input })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        error_code(&body).as_deref(),
        Some("QUOTA_EXCEEDED"),
        "{body}"
    );
}

/// Migration m20261202_000070 counts the records already stored: undone and redone on a
/// database with records, the quota still sees them.
async fn the_quota_counts_records_saved_before_the_count_existed(backend: Backend) {
    use migration::MigratorTrait as _;
    let Some(app) = TestApp::spawn_with(backend, |c| c.limits.max_records_per_tenant = 3).await
    else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for connection in ["1", "2", "3"] {
        alice
            .save(save_input(SAMPLE_SPACE).with("connectionId", connection))
            .await;
    }
    app.tenant("acct-2", SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE))
        .await;
    migration::Migrator::down(app.db(), Some(1)).await.unwrap();
    migration::Migrator::up(app.db(), None).await.unwrap();
    let by_status = resolver::lifecycle::count_by_status(app.db())
        .await
        .unwrap();
    let not_connected = by_status
        .iter()
        .find(|(status, _)| status.as_str() == "NOT_CONNECTED")
        .map(|(_, count)| *count);
    assert_eq!(not_connected, Some(4), "{by_status:?}");

    refused_over_quota(&alice, save_input(SAMPLE_SPACE).with("connectionId", "4")).await;
    app.tenant("acct-2", SAMPLE_SPACE)
        .save(save_input(SAMPLE_SPACE).with("connectionId", "2"))
        .await;
}

/// The longest key the SPEC allows, in three-byte characters (~4.6 KiB of key): more
/// than a PostgreSQL index row may hold, so uniqueness rests on the key's hash.
async fn six_255_character_non_ascii_key_parts_save_and_read_back(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    // Varied characters: PostgreSQL compresses a repetitive index entry below its limit.
    let long = |c: char| -> String {
        let seed = u32::from(c);
        (0..255u32)
            .map(|i| char::from_u32(0x4E00 + (seed + i * 7919) % 20_000).unwrap())
            .collect()
    };
    let space = "s".repeat(128);
    let alice = app.tenant(&long('帳'), &space);
    let input = save_input(&space)
        .with("integrationPackInstanceId", long('実').as_str())
        .with("processId", long('処').as_str())
        .with("envId", long('環').as_str())
        .with("connectionId", long('接').as_str());
    let first = alice.save(input.clone()).await;
    let second = alice.save(input.clone().with("clientId", "B")).await;
    assert_eq!(first["id"], second["id"], "the same key is the same record");
    let key = key_input(&space)
        .with("integrationPackInstanceId", long('実').as_str())
        .with("processId", long('処').as_str())
        .with("envId", long('環').as_str())
        .with("connectionId", long('接').as_str());
    assert_eq!(alice.find(key.clone()).await["id"], first["id"]);
    let other = key.with("connectionId", format!("{}x", &long('接')[3..]).as_str());
    assert!(alice.find(other).await.is_null(), "a different key");
    assert_eq!(app.records().await.len(), 1);
}

fn time(record: &Value, field: &str) -> DateTime<Utc> {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing: {record}"))
        .parse()
        .unwrap()
}

async fn saving_twice_with_the_same_key_keeps_the_id_and_updates_the_fields(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let first = alice.save(save_input(SAMPLE_SPACE)).await;
    let details = r#"{"baseURL":"https://other.example","clientId":"B"}"#;
    let second = alice
        .save(
            save_input(SAMPLE_SPACE)
                .with("clientId", "client-B")
                .with("oauthConnectorDetails", details)
                .with("isTokenGenerated", true),
        )
        .await;

    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["clientId"], "client-B");
    assert_eq!(second["oauthConnectorDetails"], details);
    let records = app.records().await;
    assert_eq!(records.len(), 1, "an upsert, not a second row");
    assert_eq!(records[0].id.to_string(), first["id"].as_str().unwrap());
    assert_eq!(records[0].client_id, "client-B");
    assert_eq!(records[0].oauth_connector_details, details);
}

async fn a_saved_record_reads_back_and_an_unknown_key_reads_as_null(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let saved = alice
        .save(save_input(SAMPLE_SPACE).with("clientId", "client-A"))
        .await;

    let found = alice.find(key_input(SAMPLE_SPACE)).await;
    assert_eq!(found, saved, "the read-back equals what the save answered");
    assert_eq!(found["clientId"], "client-A");
    assert_eq!(found["isClientSecretEncrypted"], false);

    for (field, other) in [
        ("integrationPackInstanceId", "test-102"),
        ("processId", "9"),
        ("envId", "9"),
        ("connectionId", "9"),
    ] {
        let unknown = alice.find(key_input(SAMPLE_SPACE).with(field, other)).await;
        assert_eq!(unknown, Value::Null, "another {field} is another record");
    }
}

async fn the_list_holds_every_record_of_the_instance_and_nothing_else(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for connection in ["c1", "c2", "c3"] {
        alice
            .save(save_input(SAMPLE_SPACE).with("connectionId", connection))
            .await;
    }
    alice
        .save(save_input(SAMPLE_SPACE).with("integrationPackInstanceId", "test-999"))
        .await;

    let data = alice.data(LIST, json!({ "id": "test-101" })).await;
    let list = data["iPackInstanceOauthConnectorDetailsList"]
        .as_array()
        .unwrap();
    let mut connections: Vec<&str> = list
        .iter()
        .map(|r| r["connectionId"].as_str().unwrap())
        .collect();
    connections.sort_unstable();
    assert_eq!(connections, ["c1", "c2", "c3"]);
    assert!(
        list.iter()
            .all(|r| r["integrationPackInstanceId"] == "test-101")
    );

    let none = alice.data(LIST, json!({ "id": "no-such-instance" })).await;
    assert_eq!(none["iPackInstanceOauthConnectorDetailsList"], json!([]));
}

async fn delete_answers_true_then_false_and_the_record_is_gone(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    alice.save(save_input(SAMPLE_SPACE)).await;
    alice
        .save(save_input(SAMPLE_SPACE).with("connectionId", "kept"))
        .await;

    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    let first = alice.data(DELETE, variables.clone()).await;
    assert_eq!(first["deleteIPackInstanceOauthConnectorDetails"], true);
    let second = alice.data(DELETE, variables).await;
    assert_eq!(second["deleteIPackInstanceOauthConnectorDetails"], false);

    assert_eq!(alice.find(key_input(SAMPLE_SPACE)).await, Value::Null);
    let records = app.records().await;
    assert_eq!(records.len(), 1, "only the deleted key is gone");
    assert_eq!(records[0].connection_id, "kept");
}

async fn created_at_stays_and_updated_at_moves_on_each_save(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let before = Utc::now() - chrono::Duration::seconds(1);
    let first = alice.save(save_input(SAMPLE_SPACE)).await;
    assert!(time(&first, "createdAt") >= before);
    assert_eq!(time(&first, "createdAt"), time(&first, "updatedAt"));

    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = alice
        .save(save_input(SAMPLE_SPACE).with("clientId", "changed"))
        .await;
    assert_eq!(time(&second, "createdAt"), time(&first, "createdAt"));
    assert!(time(&second, "updatedAt") > time(&first, "updatedAt"));
    assert!(time(&second, "updatedAt") <= Utc::now() + chrono::Duration::seconds(1));
}

async fn is_token_generated_is_stored_as_the_save_sends_it(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let input = save_input(SAMPLE_SPACE);
    let saved = alice
        .save(input.clone().with("isTokenGenerated", true))
        .await;
    assert_eq!(saved["isTokenGenerated"], true);
    assert!(app.records().await[0].is_token_generated);
    let saved = alice.save(input.with("isTokenGenerated", false)).await;
    assert_eq!(saved["isTokenGenerated"], false);
    assert!(!app.records().await[0].is_token_generated);
}

async fn variables_declared_with_the_documented_type_names_work(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    // The platform's clients declare the input as IPackInstanceOauthConnectorDetailsInput
    // and fragment on the record type IPackInstanceOauthConnectorDetails (SPEC §3).
    let query = "mutation addIPackInstanceOAuthConnectorDetails($input: IPackInstanceOauthConnectorDetailsInput!) {
        saveIPackInstanceOauthConnectorDetails(input: $input) { ...Record __typename }
    }
    fragment Record on IPackInstanceOauthConnectorDetails { id catalogGuid }";
    let (status, _, body) = alice
        .graphql(query, json!({ "input": save_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let saved = &body["data"]["saveIPackInstanceOauthConnectorDetails"];
    assert_eq!(saved["__typename"], "IPackInstanceOauthConnectorDetails");
    assert_eq!(saved["catalogGuid"], SAMPLE_SPACE);
    assert_eq!(app.records().await.len(), 1);
}

/// Saves that arrive together are written together (one statement per batch); each
/// caller must still get its own record, and saves of one key must stay one record.
async fn saves_sent_at_once_each_land_on_their_own_record(backend: Backend) {
    // The real binary: the save-batch histogram it checks is its own, not shared.
    if let Some(app) = TestApp::spawn_process(backend, &[]).await {
        saves_sent_at_once_land_on_their_own_record(app).await;
    }
}

/// Two batches in flight at once (PostgreSQL; SQLite keeps one writer whatever is set).
async fn saves_sent_at_once_to_two_writers_each_land_on_their_own_record(backend: Backend) {
    if let Some(app) = TestApp::spawn_process(backend, &[("DB_SAVE_WRITERS", "2")]).await {
        saves_sent_at_once_land_on_their_own_record(app).await;
    }
}

/// Rounds of 32 saves sent at once: each caller gets its own record, a key saved by
/// several callers stays one record, and some statement carried more than one save.
async fn saves_sent_at_once_land_on_their_own_record(app: TestApp) {
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let batched_before = batch_rows(&app).await;
    for round in 0..5 {
        // 24 keys saved once each and one key saved 8 times, all at once.
        let distinct: Vec<_> = (0..24)
            .map(|n| {
                let input = save_input(SAMPLE_SPACE)
                    .with("integrationPackInstanceId", format!("ipack-{n}"))
                    .with("clientId", format!("client-{round}-{n}"));
                tokio::spawn(app::send(alice.save_request(input)))
            })
            .collect();
        let shared: Vec<_> = (0..8)
            .map(|n| {
                let input = save_input(SAMPLE_SPACE).with("clientId", format!("shared-{n}"));
                tokio::spawn(app::send(alice.save_request(input)))
            })
            .collect();

        for (n, sent) in distinct.into_iter().enumerate() {
            let record = saved_record(sent.await.unwrap());
            assert_eq!(record["integrationPackInstanceId"], format!("ipack-{n}"));
            assert_eq!(record["clientId"], format!("client-{round}-{n}"));
        }
        let mut shared_ids = Vec::new();
        for sent in shared {
            shared_ids.push(saved_record(sent.await.unwrap())["id"].clone());
        }
        shared_ids.dedup();
        assert_eq!(shared_ids.len(), 1, "one key, one record: {shared_ids:?}");

        let records = app.records().await;
        assert_eq!(records.len(), 25);
        for n in 0..24 {
            let ipack = format!("ipack-{n}");
            let record = records
                .iter()
                .find(|r| r.integration_pack_instance_id == ipack)
                .unwrap();
            assert_eq!(record.client_id, format!("client-{round}-{n}"));
        }
        if batch_rows(&app)
            .await
            .rows_per_statement_above(&batched_before)
        {
            return;
        }
    }
    panic!("no save statement carried more than one row in 5 rounds of 32 saves at once");
}

fn saved_record((status, _, body): (StatusCode, reqwest::header::HeaderMap, Value)) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"]["saveIPackInstanceOauthConnectorDetails"].clone()
}

/// The `spaces_oauth_save_batch_rows` histogram's sum and count.
struct BatchRows {
    rows: f64,
    statements: f64,
}

impl BatchRows {
    /// True when the statements since `before` carried more than one row on average.
    fn rows_per_statement_above(&self, before: &BatchRows) -> bool {
        self.rows - before.rows > self.statements - before.statements
    }
}

async fn batch_rows(app: &TestApp) -> BatchRows {
    let text = app.metrics().await;
    let value = |name: &str| metric_sample(&text, name);
    BatchRows {
        rows: value("spaces_oauth_save_batch_rows_sum"),
        statements: value("spaces_oauth_save_batch_rows_count"),
    }
}
