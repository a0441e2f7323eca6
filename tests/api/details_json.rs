//! SPEC §4: `oauthConnectorDetails` comes back byte for byte, secret-named values are
//! vaulted and shown as `dummyClientSecret`, and invalid details are refused.

use reqwest::StatusCode;
use resolver::details::sealed::open_details;
use serde_json::{Value, json};

use crate::helpers::*;

backend_tests!(
    odd_details_strings_round_trip_byte_for_byte,
    secret_named_values_at_any_depth_are_vaulted_and_masked,
    saving_the_masked_details_back_keeps_the_vaulted_values,
    invalid_details_are_refused_and_nothing_is_stored,
    details_of_exactly_64_kib_are_accepted,
);

/// Strings that a re-serializing server would change.
const ODD_DETAILS: [&str; 6] = [
    "{ \"z\" : 1.50 ,\n\t\"a\" :\"\\u00e9\\u00E9\" , \"b\":[ ] }",
    r#"{"dup":1,"dup":2,"num":1e+02,"neg":-0.0,"big":123456789012345678901234567890}"#,
    r#"{"emoji":"\ud83d\ude00","raw":"é😀","slash":"a\/b","ctrl":"\n\t\u0000"}"#,
    "  {\"baseURL\":\"https://x.example\",\"clientId\":\"A\"}  \r\n",
    r#"{"authParams":{"b":"2","a":"1"},"accessTokenParams":{},"unknown":{"deep":[1,{"x":null}]}}"#,
    "{}",
];

async fn odd_details_strings_round_trip_byte_for_byte(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    for (index, details) in ODD_DETAILS.iter().enumerate() {
        let connection = format!("c{index}");
        let input = save_input(SAMPLE_SPACE)
            .with("connectionId", connection.as_str())
            .with("oauthConnectorDetails", *details);
        let saved = alice.save(input).await;
        assert_eq!(saved["oauthConnectorDetails"], *details, "save answer");
        let found = alice
            .find(key_input(SAMPLE_SPACE).with("connectionId", connection.as_str()))
            .await;
        assert_eq!(found["oauthConnectorDetails"], *details, "read-back");
    }
    let listed = alice.data(LIST, json!({ "id": "test-101" })).await;
    for record in listed["iPackInstanceOauthConnectorDetailsList"]
        .as_array()
        .unwrap()
    {
        let index: usize = record["connectionId"].as_str().unwrap()[1..]
            .parse()
            .unwrap();
        assert_eq!(record["oauthConnectorDetails"], ODD_DETAILS[index], "list");
    }
    for record in app.records().await {
        let index: usize = record.connection_id[1..].parse().unwrap();
        assert_eq!(record.oauth_connector_details, ODD_DETAILS[index], "stored");
        assert_eq!(record.sealed_details_secrets, None, "no secret-named keys");
    }
}

/// Details with secrets at depth and in arrays, and the masked text expected back.
fn secret_details() -> (String, String, Vec<(&'static str, &'static str)>) {
    // (JSON pointer, raw JSON value) of every secret-named value.
    let secrets = vec![
        ("/clientSecret", r#""top-secret-1""#),
        ("/nested/deeper/password", r#""p@ss \"quoted\"""#),
        ("/list/0/access_token", r#""tok-3""#),
        ("/list/1/x/refresh_token", r#""ref-4""#),
        ("/private_key", r#"{"k":"-----BEGIN-----"}"#),
        ("/assertion", "12345"),
        ("/privateKey", r#"["a","b"]"#),
        ("/nested/client_secret", r#""top-secret-8""#),
    ];
    let template = r#"{ "baseURL":"https://idp.example", "clientSecret" : S0,
 "nested": {"deeper": {"password":S1, "other": "kept"}, "client_secret":S7},
 "list": [ {"access_token": S2}, {"x": {"refresh_token":S3}} ],
 "private_key": S4, "assertion":S5, "privateKey": S6, "clientId": "A" }"#;
    let mut sent = template.to_owned();
    let mut masked = template.to_owned();
    for (index, (_, raw)) in secrets.iter().enumerate() {
        sent = sent.replace(&format!("S{index}"), raw);
        masked = masked.replace(&format!("S{index}"), "\"dummyClientSecret\"");
    }
    (sent, masked, secrets)
}

async fn secret_named_values_at_any_depth_are_vaulted_and_masked(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let (sent, masked, secrets) = secret_details();
    let saved = alice
        .save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", sent.as_str()))
        .await;
    assert_eq!(saved["oauthConnectorDetails"], masked.as_str());
    assert_eq!(
        alice.find(key_input(SAMPLE_SPACE)).await["oauthConnectorDetails"],
        masked.as_str()
    );

    let record = &app.records().await[0];
    assert_eq!(record.oauth_connector_details, masked);
    let vaulted = open_details(&app.vault(), record).unwrap();
    let expected: std::collections::BTreeMap<String, String> = secrets
        .iter()
        .map(|(pointer, raw)| ((*pointer).to_owned(), (*raw).to_owned()))
        .collect();
    assert_eq!(vaulted, expected);
    let sealed = record.sealed_details_secrets.as_deref().unwrap();
    for needle in ["top-secret-1", "tok-3", "ref-4", "BEGIN", "top-secret-8"] {
        assert!(!sealed.contains(needle) && !record.oauth_connector_details.contains(needle));
    }
}

async fn saving_the_masked_details_back_keeps_the_vaulted_values(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let (sent, masked, _) = secret_details();
    alice
        .save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", sent.as_str()))
        .await;
    let before = open_details(&app.vault(), &app.records().await[0]).unwrap();

    let saved = alice
        .save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", masked.as_str()))
        .await;
    assert_eq!(saved["oauthConnectorDetails"], masked.as_str());
    let after = open_details(&app.vault(), &app.records().await[0]).unwrap();
    assert_eq!(after, before, "placeholders keep what the vault holds");

    // One value changed, the rest sent back masked: only that one is replaced.
    let one_new = masked.replacen(
        r#""clientSecret" : "dummyClientSecret""#,
        r#""clientSecret" : "brand-new""#,
        1,
    );
    assert_ne!(one_new, masked);
    alice
        .save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", one_new.as_str()))
        .await;
    let mut expected = before.clone();
    expected.insert("/clientSecret".into(), r#""brand-new""#.into());
    let updated = open_details(&app.vault(), &app.records().await[0]).unwrap();
    assert_eq!(updated, expected);

    // A save without the key drops its vaulted value.
    alice.save(save_input(SAMPLE_SPACE)).await;
    let record = &app.records().await[0];
    assert_eq!(record.oauth_connector_details, SAMPLE_DETAILS);
    assert!(open_details(&app.vault(), record).unwrap().is_empty());
}

async fn invalid_details_are_refused_and_nothing_is_stored(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let too_big = format!(
        "{{\"a\":\"{}\"}}",
        "x".repeat(64 * 1024 - 8 + 1) // one byte over 64 KiB in total
    );
    assert_eq!(too_big.len(), 64 * 1024 + 1);
    let invalid = [
        "not json",
        "",
        "[1,2]",
        "\"a string\"",
        "null",
        r#"{"a":1"#,
        r#"{"a":1} trailing"#,
        r#"{"authParams":{"key":1}}"#,
        r#"{"accessTokenParams":["value"]}"#,
        r#"{"authParams":"key=value"}"#,
        too_big.as_str(),
    ];
    for details in invalid {
        let (status, _, body) = alice
            .graphql(
                SAVE,
                json!({ "input": save_input(SAMPLE_SPACE).with("oauthConnectorDetails", details) }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "a field error; body: {body}");
        assert_eq!(
            error_code(&body).as_deref(),
            Some("INVALID_OAUTH_CONNECTOR_DETAILS"),
            "{}: {body}",
            &details[..details.len().min(40)]
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "the reason is given: {body}"
        );
        assert_eq!(body["data"], Value::Null);
    }
    assert!(app.records().await.is_empty());

    // Refused on update too: the stored record stays as it was.
    alice.save(save_input(SAMPLE_SPACE)).await;
    let (_, _, body) = alice
        .graphql(
            SAVE,
            json!({ "input": save_input(SAMPLE_SPACE).with("oauthConnectorDetails", "[]").with("clientId", "new") }),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("INVALID_OAUTH_CONNECTOR_DETAILS")
    );
    let records = app.records().await;
    assert_eq!(records[0].oauth_connector_details, SAMPLE_DETAILS);
    assert_eq!(records[0].client_id, "dummyClientId");
}

async fn details_of_exactly_64_kib_are_accepted(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let details = format!("{{\"a\":\"{}\"}}", "x".repeat(64 * 1024 - 8));
    assert_eq!(details.len(), 64 * 1024);
    let saved = alice
        .save(save_input(SAMPLE_SPACE).with("oauthConnectorDetails", details.as_str()))
        .await;
    assert_eq!(saved["oauthConnectorDetails"], details.as_str());
    assert_eq!(app.records().await[0].oauth_connector_details, details);
}
