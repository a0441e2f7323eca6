//! SPEC §3 key strings and §7 error codes: over-long or empty keys are refused with the
//! field named, and nothing is stored.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

backend_tests!(
    over_long_or_empty_key_strings_are_refused_with_the_field_named,
    key_strings_of_255_characters_are_accepted_even_when_multibyte,
    an_over_long_instance_id_in_the_list_query_is_refused,
);

async fn over_long_or_empty_key_strings_are_refused_with_the_field_named(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let long = "x".repeat(256);
    let cases = [
        ("integrationPackInstanceId", "IPACK_INSTANCE_ID_INVALID"),
        ("processId", "INVALID_INPUT"),
        ("envId", "INVALID_INPUT"),
        ("connectionId", "INVALID_INPUT"),
    ];
    for (field, code) in cases {
        for value in [long.as_str(), ""] {
            for (document, input) in [
                (SAVE, save_input(SAMPLE_SPACE).with(field, value)),
                (FIND, key_input(SAMPLE_SPACE).with(field, value)),
                (DELETE, key_input(SAMPLE_SPACE).with(field, value)),
            ] {
                let (status, _, body) = alice.graphql(document, json!({ "input": input })).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(error_code(&body).as_deref(), Some(code), "{field}: {body}");
                assert_eq!(
                    body["errors"][0]["extensions"]["field"], field,
                    "{field}: {body}"
                );
                assert_eq!(body["data"], Value::Null);
            }
        }
    }
    assert!(app.records().await.is_empty());
}

async fn key_strings_of_255_characters_are_accepted_even_when_multibyte(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let ascii = "x".repeat(255);
    let multibyte = "é".repeat(254) + "😀";
    let input = save_input(SAMPLE_SPACE)
        .with("integrationPackInstanceId", ascii.as_str())
        .with("processId", multibyte.as_str())
        .with("envId", multibyte.as_str())
        .with("connectionId", ascii.as_str());
    let saved = alice.save(input).await;
    assert_eq!(saved["processId"], multibyte.as_str());
    let key = key_input(SAMPLE_SPACE)
        .with("integrationPackInstanceId", ascii.as_str())
        .with("processId", multibyte.as_str())
        .with("envId", multibyte.as_str())
        .with("connectionId", ascii.as_str());
    assert_eq!(alice.find(key).await["id"], saved["id"]);
    let records = app.records().await;
    assert_eq!(records[0].process_id, multibyte);
    assert_eq!(records[0].integration_pack_instance_id, ascii);
}

async fn an_over_long_instance_id_in_the_list_query_is_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for id in ["x".repeat(256), String::new()] {
        let (_, _, body) = alice.graphql(LIST, json!({ "id": id })).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("IPACK_INSTANCE_ID_INVALID"),
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"],
            "integrationPackInstanceId"
        );
    }
}
