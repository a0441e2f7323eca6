//! The provider catalog (SPEC §11): `query oauthProviders`, an operator's
//! `PROVIDERS_FILE` entry with a `{tenant}` placeholder used end to end, and a bad file
//! stopping the start with its line.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

backend_tests!(
    oauth_providers_lists_the_catalog_and_needs_the_usual_headers,
    an_operator_entry_with_a_tenant_is_used_end_to_end,
    a_bad_providers_file_stops_the_start_with_its_line,
);

const PROVIDERS: &str = "query { oauthProviders { name displayName grantTypes authorizationTokenURL accessTokenURL scope placeholders } }";

/// An operator catalog for the double: its endpoints under `/{tenant}/`.
fn operator_catalog(idp: &IdpDouble) -> String {
    format!(
        r#"# A test identity provider (the IdP double), one endpoint set per tenant.
[[provider]]
name = "contoso-test"
displayName = "Contoso (test)"
grantTypes = ["AUTHORIZATION_CODE", "CLIENT_CREDENTIALS"]
authorizationTokenURL = "{}"
accessTokenURL = "{}"
scope = "api.read offline"
refreshAuthScheme = "basic_auth"
"#,
        idp.url("/{tenant}/authorize"),
        idp.url("/{tenant}/token"),
    )
}

async fn oauth_providers_lists_the_catalog_and_needs_the_usual_headers(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let data = ui.data(PROVIDERS, json!({})).await;
    let providers = data["oauthProviders"].as_array().unwrap();
    let names: Vec<&str> = providers
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for shipped in [
        "box",
        "salesforce",
        "quickbooks-online",
        "microsoft-entra-id",
        "azure-service-bus",
        "google",
        "hubspot",
    ] {
        assert!(names.contains(&shipped), "{shipped} missing from {names:?}");
    }
    let entra = providers
        .iter()
        .find(|p| p["name"] == "microsoft-entra-id")
        .unwrap();
    assert_eq!(entra["placeholders"], json!(["tenant"]));
    assert!(
        entra["accessTokenURL"]
            .as_str()
            .unwrap()
            .contains("/{tenant}/")
    );
    assert!(
        entra["grantTypes"]
            .as_array()
            .unwrap()
            .contains(&json!("CLIENT_CREDENTIALS"))
    );

    let token = app.token(ACCOUNT, Some(SAMPLE_SPACE));
    let (status, _, body) = app.graphql(Some(&token), None, PROVIDERS, json!({})).await;
    assert_error((status, &body), StatusCode::BAD_REQUEST, "MISSING_SPACE_ID");
    let (status, _, body) = app
        .graphql(None, Some(SAMPLE_SPACE), PROVIDERS, json!({}))
        .await;
    assert_error((status, &body), StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
}

async fn an_operator_entry_with_a_tenant_is_used_end_to_end(backend: Backend) {
    let idp = IdpDouble::start().await;
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("providers.toml");
    std::fs::write(&path, operator_catalog(&idp)).unwrap();
    let Some(app) = spawn_with(backend, |config| {
        config.providers_file = Some(path.clone());
    })
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let listed = ui.data(PROVIDERS, json!({})).await;
    let entry = listed["oauthProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "contoso-test")
        .cloned()
        .unwrap();
    assert_eq!(entry["placeholders"], json!(["tenant"]));
    assert_eq!(entry["displayName"], "Contoso (test)");

    // Without the tenant, the placeholder cannot be filled: named in the error.
    let without_tenant = json!({ "clientId": idp_double::CLIENT_ID, "provider": "contoso-test" });
    save_connector(&ui, &without_tenant.to_string()).await;
    let body = generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INVALID_OAUTH_CONNECTOR_DETAILS"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"tenant\""),
        "{body}"
    );

    // Only the provider and the tenant: everything else comes from the entry.
    let details = json!({
        "clientId": idp_double::CLIENT_ID,
        "provider": "contoso-test",
        "tenant": "contoso",
    });
    save_connector(&ui, &details.to_string()).await;
    generated(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let seen = &idp.requests()[0];
    assert_eq!(seen.path, "/contoso/token");
    assert_eq!(
        seen.client_auth, "basic",
        "the entry's client authentication"
    );
    assert_eq!(seen.params["scope"], "api.read offline");

    let url = authorize(&app, &ui).await;
    assert!(url.starts_with(&idp.url("/contoso/authorize?")), "{url}");
    let seen = &idp.requests()[1];
    assert_eq!(
        (seen.grant_type.as_str(), seen.path.as_str()),
        ("authorization_code", "/contoso/token")
    );
    assert_eq!(token_status(&ui).await["grantType"], "AUTHORIZATION_CODE");
}

async fn a_bad_providers_file_stops_the_start_with_its_line(backend: Backend) {
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("providers.toml");
    std::fs::write(
        &path,
        "[[provider]]\nname = \"broken\"\ndisplayName = \"Broken\"\ngrantTypes = [\"NOT_A_GRANT\"]\n",
    )
    .unwrap();
    let Some(started) = TestApp::try_spawn_with(backend, |config| {
        config.providers_file = Some(path.clone());
    })
    .await
    else {
        return;
    };
    let Err(error) = started else {
        panic!("the server started with a bad PROVIDERS_FILE");
    };
    assert!(error.contains("PROVIDERS_FILE"), "{error}");
    assert!(error.contains("providers.toml, line 4"), "{error}");
}
