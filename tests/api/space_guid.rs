//! SPEC §2 tenancy: the `SPACE_GUID` header, the token's `spaces` claim, `catalogGuid`,
//! and isolation between tenants (Space guid + account).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

backend_tests!(
    a_missing_or_empty_space_guid_gets_400_missing_space_id,
    an_over_long_or_oddly_spelled_space_guid_gets_400_invalid_space_id,
    a_space_guid_of_128_allowed_characters_is_accepted,
    a_token_limited_to_other_spaces_gets_403_unauthorized,
    a_catalog_guid_other_than_the_header_is_a_space_guid_mismatch,
    the_same_key_under_another_account_or_space_is_another_invisible_record,
);

async fn save_in(app: &TestApp, token: &str, space: Option<&str>) -> (StatusCode, Value) {
    let catalog = space.unwrap_or(SAMPLE_SPACE);
    let (status, _, body) = app
        .graphql(
            Some(token),
            space,
            SAVE,
            json!({ "input": save_input(catalog) }),
        )
        .await;
    (status, body)
}

async fn a_missing_or_empty_space_guid_gets_400_missing_space_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.token("acct-1", None);
    let (status, body) = save_in(&app, &token, None).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "MISSING_SPACE_ID");
    let (status, body) = save_in(&app, &token, Some("")).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "MISSING_SPACE_ID");
    // Reads need it too.
    let (status, _, body) = app
        .graphql(Some(&token), None, LIST, json!({ "id": "test-101" }))
        .await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "MISSING_SPACE_ID");
    assert!(app.records().await.is_empty());
}

async fn an_over_long_or_oddly_spelled_space_guid_gets_400_invalid_space_id(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.token("acct-1", None);
    let too_long = "a".repeat(129);
    for space in [
        too_long.as_str(),
        "space guid",
        "space.guid",
        "space/guid",
        "space%20guid",
        "'; DROP TABLE connector_details; --",
    ] {
        let (status, body) = save_in(&app, &token, Some(space)).await;
        assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_SPACE_ID");
    }
    // Bytes outside ASCII, which a header may carry.
    let request = app
        .request(reqwest::Method::POST, "/graphql")
        .header("Authorization", format!("Bearer {token}"))
        .header(
            "SPACE_GUID",
            reqwest::header::HeaderValue::from_bytes("espaço".as_bytes()).unwrap(),
        )
        .json(&json!({ "query": LIST, "variables": { "id": "x" } }));
    let (status, _, body) = app::send(request).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_SPACE_ID");
    assert!(app.records().await.is_empty());
}

async fn a_space_guid_of_128_allowed_characters_is_accepted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let space = format!("{}_-", "Az09".repeat(31)) + "xy";
    assert_eq!(space.len(), 128);
    let tenant = app.tenant("acct-1", &space);
    let saved = tenant.save(save_input(&space)).await;
    assert_eq!(saved["catalogGuid"], space.as_str());
    assert_eq!(app.records().await[0].space_guid, space);
}

async fn a_token_limited_to_other_spaces_gets_403_unauthorized(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let elsewhere = app
        .token_builder("acct-1")
        .spaces(&["space-a", "space-b"])
        .sign();
    let (status, body) = save_in(&app, &elsewhere, Some(SAMPLE_SPACE)).await;
    assert_error((status, &body), StatusCode::FORBIDDEN, "UNAUTHORIZED");
    let empty = app.token_builder("acct-1").spaces(&[]).sign();
    let (status, body) = save_in(&app, &empty, Some(SAMPLE_SPACE)).await;
    assert_error((status, &body), StatusCode::FORBIDDEN, "UNAUTHORIZED");
    assert!(app.records().await.is_empty());

    // One of its Spaces, and a token without the claim, are accepted.
    let (status, body) = save_in(&app, &elsewhere, Some("space-b")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let unlimited = app.token("acct-1", None);
    let (status, body) = save_in(&app, &unlimited, Some(SAMPLE_SPACE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(app.records().await.len(), 2);
}

async fn a_catalog_guid_other_than_the_header_is_a_space_guid_mismatch(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let other = save_input(SAMPLE_SPACE).with("catalogGuid", "another-space");
    let (status, _, body) = alice.graphql(SAVE, json!({ "input": other })).await;
    assert_eq!(status, StatusCode::OK, "a field error: {body}");
    assert_eq!(error_code(&body).as_deref(), Some("SPACE_GUID_MISMATCH"));
    assert!(app.records().await.is_empty());

    alice.save(save_input(SAMPLE_SPACE)).await;
    let key = key_input(SAMPLE_SPACE).with("catalogGuid", "another-space");
    for document in [FIND, DELETE, RESET] {
        let (_, _, body) = alice.graphql(document, json!({ "input": key })).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("SPACE_GUID_MISMATCH"),
            "{document}: {body}"
        );
    }
    let encrypt = key.clone().with("clientSecret", "s3cret");
    let (_, _, body) = alice.graphql(ENCRYPT, json!({ "input": encrypt })).await;
    assert_eq!(error_code(&body).as_deref(), Some("SPACE_GUID_MISMATCH"));
    let records = app.records().await;
    assert_eq!(records.len(), 1, "nothing was deleted");
    assert_eq!(
        records[0].sealed_client_secret, None,
        "nothing was encrypted"
    );
}

async fn the_same_key_under_another_account_or_space_is_another_invisible_record(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-alice", "space-1");
    let bob = app.tenant("acct-bob", "space-1");
    let alice_elsewhere = app.tenant("acct-alice", "space-2");
    let details = r#"{"clientId":"alice"}"#;
    let saved = alice
        .save(
            save_input("space-1")
                .with("oauthConnectorDetails", details)
                .with("clientSecret", "alice-secret"),
        )
        .await;

    // Invisible to another account in the same Space, and to the same account elsewhere.
    for (who, other, space) in [
        ("bob", &bob, "space-1"),
        ("alice@2", &alice_elsewhere, "space-2"),
    ] {
        assert_eq!(other.find(key_input(space)).await, Value::Null, "{who}");
        let list = other.data(LIST, json!({ "id": "test-101" })).await;
        assert_eq!(
            list["iPackInstanceOauthConnectorDetailsList"],
            json!([]),
            "{who}"
        );
        let deleted = other
            .data(DELETE, json!({ "input": key_input(space) }))
            .await;
        assert_eq!(
            deleted["deleteIPackInstanceOauthConnectorDetails"], false,
            "{who}"
        );
        let (_, _, body) = other
            .graphql(
                ENCRYPT,
                json!({ "input": key_input(space).with("clientSecret", "stolen") }),
            )
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{who}: {body}"
        );
        let (_, _, body) = other
            .graphql(RESET, json!({ "input": key_input(space) }))
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{who}: {body}"
        );
    }

    // The same key saved by bob is bob's own record.
    let bobs = bob.save(save_input("space-1")).await;
    assert_ne!(bobs["id"], saved["id"]);
    assert_eq!(bobs["isClientSecretEncrypted"], false);
    let again = alice.find(key_input("space-1")).await;
    assert_eq!(again["id"], saved["id"]);
    assert_eq!(again["oauthConnectorDetails"], details);
    assert_eq!(again["isClientSecretEncrypted"], true);
    let list = bob.data(LIST, json!({ "id": "test-101" })).await;
    assert_eq!(
        list["iPackInstanceOauthConnectorDetailsList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.records().await.len(), 2);
}
