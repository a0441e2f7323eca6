//! SPEC §1 and the GraphQL-over-HTTP spec: media types, status codes of request errors,
//! GET for queries only, the request id in every error, and automatic persisted
//! queries (the Apollo protocol).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::*;

backend_tests!(
    a_mutation_over_get_is_refused_with_405_and_writes_nothing,
    request_errors_are_400_without_data_only_under_graphql_response_json,
    unacceptable_media_types_and_bodies_are_refused,
    every_error_carries_the_request_id_of_the_response,
    get_runs_queries_with_operation_name_and_variables,
    persisted_queries_follow_the_apollo_protocol,
    persisted_queries_are_registered_for_authenticated_callers_only_and_small_documents,
);

async fn persisted_queries_are_registered_for_authenticated_callers_only_and_small_documents(
    backend: Backend,
) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let apq = |query: &str| {
        let hash = hex::encode(Sha256::digest(query));
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
    };
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    let known = |query: &str| {
        let body = json!({ "variables": variables, "extensions": apq(query) });
        let request = app.graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), body);
        async move {
            let (_, _, body) = request.await;
            error_code(&body).as_deref() != Some("PERSISTED_QUERY_NOT_FOUND")
        }
    };
    // Sent with the query but without a token: refused with 401, not remembered.
    let anonymous = json!({ "query": FIND, "variables": variables, "extensions": apq(FIND) });
    let (status, _, _) = app.graphql_body(None, Some(SAMPLE_SPACE), anonymous).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!known(FIND).await, "an anonymous caller registered a query");

    // Over 16 KiB: runs, but is not remembered.
    let padded: &'static str =
        Box::leak(format!("{FIND}{}", " ".repeat(16 * 1024)).into_boxed_str());
    let big = json!({ "query": padded, "variables": variables, "extensions": apq(padded) });
    let (status, _, body) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), big)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        !known(padded).await,
        "a document over 16 KiB was registered"
    );

    let full = json!({ "query": FIND, "variables": variables, "extensions": apq(FIND) });
    let (status, _, _) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), full)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(known(FIND).await, "an authenticated caller registers");
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

fn save_query_string(space: &str) -> Vec<(&'static str, String)> {
    vec![
        ("query", SAVE.to_owned()),
        (
            "variables",
            json!({ "input": save_input(space) }).to_string(),
        ),
    ]
}

async fn a_mutation_over_get_is_refused_with_405_and_writes_nothing(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let request = app
        .request(Method::GET, "/graphql")
        .query(&save_query_string(SAMPLE_SPACE))
        .header("Accept", "application/json")
        .header("Authorization", format!("Bearer {}", alice.token))
        .header("SPACE_GUID", SAMPLE_SPACE);
    let (status, headers, body) = app::send(request).await;
    assert_error(
        (status, &body),
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_INPUT",
    );
    assert_eq!(headers["allow"], "POST");

    // Known to the server as a persisted query, the mutation is still refused over GET.
    let hash = hex::encode(Sha256::digest(SAVE));
    let apq = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let register = json!({ "query": SAVE, "variables": { "input": save_input(SAMPLE_SPACE) }, "extensions": apq });
    let (status, _, body) = app
        .graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), register)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.records().await[0].updated_at;
    let request = app
        .request(Method::GET, "/graphql")
        .query(&[
            ("extensions", apq.to_string()),
            (
                "variables",
                json!({ "input": save_input(SAMPLE_SPACE).with("clientId", "B") }).to_string(),
            ),
        ])
        .header("Authorization", format!("Bearer {}", alice.token))
        .header("SPACE_GUID", SAMPLE_SPACE);
    let (status, _, body) = app::send(request).await;
    assert_error(
        (status, &body),
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_INPUT",
    );
    assert_eq!(
        app.records().await[0].updated_at,
        before,
        "nothing was written"
    );
}

/// POST /graphql as a valid caller (unparseable documents are answered after
/// authentication).
async fn post(app: &TestApp, accept: &str, body: Value) -> (StatusCode, String, Value) {
    let token = app.token("acct-1", Some(SAMPLE_SPACE));
    let request = app
        .request(Method::POST, "/graphql")
        .header("Accept", accept)
        .header("Authorization", format!("Bearer {token}"))
        .header("SPACE_GUID", SAMPLE_SPACE)
        .json(&body);
    let (status, headers, body) = app::send(request).await;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, body)
}

async fn request_errors_are_400_without_data_only_under_graphql_response_json(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for bad in ["{", "{ noSuchField }", "query Q($x: Int!) { __typename }"] {
        let (status, content_type, body) =
            post(&app, GRAPHQL_RESPONSE_JSON, json!({ "query": bad })).await;
        assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");
        assert!(
            content_type.starts_with(GRAPHQL_RESPONSE_JSON),
            "{content_type}"
        );
        assert!(body.get("data").is_none(), "{bad}: {body}");

        let (status, content_type, body) =
            post(&app, "application/json", json!({ "query": bad })).await;
        assert_error((status, &body), StatusCode::OK, "INVALID_INPUT");
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
    }
    let (status, content_type, body) = post(
        &app,
        GRAPHQL_RESPONSE_JSON,
        json!({ "query": "{ __typename }" }),
    )
    .await;
    assert_eq!(
        (status, body["data"]["__typename"].as_str()),
        (StatusCode::OK, Some("Query"))
    );
    assert!(
        content_type.starts_with(GRAPHQL_RESPONSE_JSON),
        "{content_type}"
    );
}

async fn unacceptable_media_types_and_bodies_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, _, body) = post(&app, "text/plain", json!({ "query": "{ __typename }" })).await;
    assert_error((status, &body), StatusCode::NOT_ACCEPTABLE, "INVALID_INPUT");

    let request = app
        .request(Method::POST, "/graphql")
        .header("Content-Type", "application/json")
        .body("{\"query\": ");
    let (status, _, body) = app::send(request).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");

    let request = app
        .request(Method::POST, "/graphql")
        .header("Content-Type", "text/plain")
        .body("{ __typename }");
    let (status, _, body) = app::send(request).await;
    assert_error(
        (status, &body),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "INVALID_INPUT",
    );
}

async fn every_error_carries_the_request_id_of_the_response(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    let mismatch = alice
        .graphql(FIND, json!({ "input": key_input("another-space") }))
        .await;
    let unauthenticated = app
        .graphql(
            None,
            Some(SAMPLE_SPACE),
            FIND,
            json!({ "input": key_input(SAMPLE_SPACE) }),
        )
        .await;
    let invalid = app.graphql(None, None, "{", json!({})).await;
    for (status, headers, body) in [mismatch, unauthenticated, invalid] {
        let id = headers["x-request-id"].to_str().unwrap();
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{status}: {body}"));
        for error in errors {
            assert_eq!(error["extensions"]["requestId"], id, "{body}");
            assert!(error["extensions"]["code"].is_string(), "{body}");
        }
    }
}

async fn get_runs_queries_with_operation_name_and_variables(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let document =
        "query A { __typename } query B($name: String!) { __type(name: $name) { name } }";
    let request = app
        .request(Method::GET, "/graphql")
        .header("Accept", GRAPHQL_RESPONSE_JSON)
        .query(&[
            ("query", document),
            ("operationName", "B"),
            ("variables", r#"{"name":"Query"}"#),
        ]);
    let (status, _, body) = app::send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["__type"]["name"], "Query", "{body}");
}

async fn persisted_queries_follow_the_apollo_protocol(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let alice = app.tenant("acct-1", SAMPLE_SPACE);
    alice.save(save_input(SAMPLE_SPACE)).await;
    let hash = hex::encode(Sha256::digest(FIND));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    let by_hash = json!({ "variables": variables, "extensions": extensions });
    let send = |body: Value| app.graphql_body(Some(&alice.token), Some(SAMPLE_SPACE), body);

    let (status, _, body) = send(by_hash.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["message"], "PersistedQueryNotFound",
        "{body}"
    );
    assert_eq!(
        error_code(&body).as_deref(),
        Some("PERSISTED_QUERY_NOT_FOUND")
    );

    let wrong = json!({ "query": LIST, "variables": { "id": "x" }, "extensions": extensions });
    let (status, _, body) = send(wrong).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "INVALID_INPUT");

    let full = json!({ "query": FIND, "variables": variables, "extensions": extensions });
    let (status, _, body) = send(full).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["IPackInstanceOAuthConnectorDetails"]["processId"],
        "1"
    );

    let (status, _, body) = send(by_hash).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["IPackInstanceOAuthConnectorDetails"]["processId"],
        "1"
    );
}

backend_tests!(unknown_paths_and_methods_answer_in_the_error_envelope);

async fn unknown_paths_and_methods_answer_in_the_error_envelope(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (status, headers, body) = app::send(app.request(Method::GET, "/nothing-here")).await;
    assert_error((status, &body), StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"],
        headers["x-request-id"].to_str().unwrap()
    );
    let (status, headers, body) = app::send(app.request(Method::PUT, "/graphql")).await;
    assert_error(
        (status, &body),
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_INPUT",
    );
    assert!(headers["allow"].to_str().unwrap().contains("POST"));
}
