//! The documented sample request (seed 003), sent verbatim with the documented headers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

backend_tests!(the_documented_sample_request_saves_and_answers_the_documented_shape);

/// The "Sample Request" of seed 003, byte for byte (note the missing comma after
/// `catalogGuid`, which GraphQL allows).
const SAMPLE_REQUEST: &str = r#"mutation addIPackInstanceOAuthConnectorDetails{
saveIPackInstanceOauthConnectorDetails(
input: {
integrationPackInstanceId: "test-101",
isTokenGenerated: false,
oauthConnectorDetails:"{\"baseURL\":\"https://baseURL.com\",\"companyId\":\"9341452451293689\",\"clientId\":\"A\",\"authParams\":{\"key\":\"value\"},\"accessTokenParams\":{\"key\":\"value\"}}",
processId: "1",
envId: "2",
connectionId: "3",
catalogGuid: "796eeeb4-1b2f-4965-898a-7e443"
clientId: "dummyClientId",
clientSecret: "dummyValue"
}
){
id
integrationPackInstanceId
isTokenGenerated
oauthConnectorDetails
processId
envId
connectionId
catalogGuid
}
}"#;

async fn the_documented_sample_request_saves_and_answers_the_documented_shape(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.token("acct-1", Some(SAMPLE_SPACE));
    let (status, headers, body) = app::send(
        app.request(Method::POST, "/graphql")
            .header("SPACE_GUID", SAMPLE_SPACE)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json")
            .json(&json!({
                "query": SAMPLE_REQUEST,
                "operationName": "addIPackInstanceOAuthConnectorDetails",
            })),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert!(body.get("errors").is_none(), "{body}");
    let saved = &body["data"]["saveIPackInstanceOauthConnectorDetails"];
    let fields: Vec<&str> = saved
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "integrationPackInstanceId",
            "isTokenGenerated",
            "oauthConnectorDetails",
            "processId",
            "envId",
            "connectionId",
            "catalogGuid"
        ]
    );
    let id = saved["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "id is not a UUID: {id}");
    assert_eq!(saved["integrationPackInstanceId"], "test-101");
    assert_eq!(saved["isTokenGenerated"], false);
    assert_eq!(saved["oauthConnectorDetails"], SAMPLE_DETAILS);
    assert_eq!(saved["processId"], "1");
    assert_eq!(saved["envId"], "2");
    assert_eq!(saved["connectionId"], "3");
    assert_eq!(saved["catalogGuid"], SAMPLE_SPACE);

    let records = app.records().await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.id.to_string(), id);
    assert_eq!(record.space_guid, SAMPLE_SPACE);
    assert_eq!(record.account_id, "acct-1");
    assert_eq!(record.client_id, "dummyClientId");
    assert_eq!(record.client_secret, "dummyClientSecret");
    assert_eq!(
        record.sealed_client_secret, None,
        "dummyValue is not a secret"
    );
    assert_eq!(record.oauth_connector_details, SAMPLE_DETAILS);
}
