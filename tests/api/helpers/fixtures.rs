//! GraphQL documents, inputs and assertions shared by the API tests.

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The Space guid of the documented sample request (seed 003): not a valid UUID.
pub const SAMPLE_SPACE: &str = "796eeeb4-1b2f-4965-898a-7e443";

/// The documented sample `oauthConnectorDetails` (seed 003).
pub const SAMPLE_DETAILS: &str = r#"{"baseURL":"https://baseURL.com","companyId":"9341452451293689","clientId":"A","authParams":{"key":"value"},"accessTokenParams":{"key":"value"}}"#;

/// `saveIPackInstanceOauthConnectorDetails(input: $input)`, with the documented types.
pub const SAVE: &str = "mutation Save($input: IPackInstanceOauthConnectorDetailsInput!) { saveIPackInstanceOauthConnectorDetails(input: $input) { id integrationPackInstanceId isTokenGenerated oauthConnectorDetails processId envId connectionId catalogGuid clientId isClientSecretEncrypted createdAt updatedAt } }";

/// `IPackInstanceOAuthConnectorDetails(input: $input)`.
pub const FIND: &str = "query Find($input: IPackInstanceOauthConnectorKeyInput!) { IPackInstanceOAuthConnectorDetails(input: $input) { id integrationPackInstanceId isTokenGenerated oauthConnectorDetails processId envId connectionId catalogGuid clientId isClientSecretEncrypted createdAt updatedAt } }";

/// `iPackInstanceOauthConnectorDetailsList(integrationPackInstanceId: $id)`.
pub const LIST: &str = "query List($id: String!) { iPackInstanceOauthConnectorDetailsList(integrationPackInstanceId: $id) { id integrationPackInstanceId processId envId connectionId catalogGuid oauthConnectorDetails } }";

/// `deleteIPackInstanceOauthConnectorDetails(input: $input)`.
pub const DELETE: &str = "mutation Delete($input: IPackInstanceOauthConnectorKeyInput!) { deleteIPackInstanceOauthConnectorDetails(input: $input) }";

/// `encryptIPackInstanceOauthClientSecret(input: $input)`.
pub const ENCRYPT: &str = "mutation Encrypt($input: IPackInstanceOauthClientSecretInput!) { encryptIPackInstanceOauthClientSecret(input: $input) { id isClientSecretEncrypted updatedAt } }";

/// `resetIPackInstanceOauthClientSecret(input: $input)`.
pub const RESET: &str = "mutation Reset($input: IPackInstanceOauthConnectorKeyInput!) { resetIPackInstanceOauthClientSecret(input: $input) { id isClientSecretEncrypted isTokenGenerated } }";

/// The documented sample save input (seed 003) for `space`.
pub fn save_input(space: &str) -> Value {
    json!({
        "integrationPackInstanceId": "test-101",
        "isTokenGenerated": false,
        "oauthConnectorDetails": SAMPLE_DETAILS,
        "processId": "1",
        "envId": "2",
        "connectionId": "3",
        "catalogGuid": space,
        "clientId": "dummyClientId",
        "clientSecret": "dummyValue",
    })
}

/// The key of [`save_input`]'s record.
pub fn key_input(space: &str) -> Value {
    json!({
        "integrationPackInstanceId": "test-101",
        "processId": "1",
        "envId": "2",
        "connectionId": "3",
        "catalogGuid": space,
    })
}

/// Builder-style edits of JSON objects: `save_input(S).with("clientSecret", "x")`.
pub trait With {
    /// `self` with `field` set to `value`.
    fn with(self, field: &str, value: impl Into<Value>) -> Self;
}

impl With for Value {
    fn with(mut self, field: &str, value: impl Into<Value>) -> Self {
        self[field] = value.into();
        self
    }
}

/// The `extensions.code` of every error in a GraphQL response body.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The first error's `extensions.code`, if any.
pub fn error_code(body: &Value) -> Option<String> {
    error_codes(body).into_iter().next()
}

/// Asserts an error response: `status` and the first error's `code`.
#[track_caller]
pub fn assert_error(actual: (StatusCode, &Value), status: StatusCode, code: &str) {
    let (actual_status, body) = actual;
    assert_eq!(
        error_code(body).as_deref(),
        Some(code),
        "expected {code}; body: {body}"
    );
    assert_eq!(actual_status, status, "unexpected status; body: {body}");
}
