//! Tests of switch validation and of effective settings.

use serde_json::json;

use super::*;

fn details(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn catalog() -> Catalog {
    Catalog::shipped().unwrap()
}

#[test]
fn switches_of_the_right_type_pass() {
    let d = details(json!({
        "pkce": false, "tokenRequestFormat": "json", "tokenLifetimeSeconds": 3600,
        "refreshTokenURL": "https://idp.example/{tenant}/refresh", "discoveryURL": "",
        "testURL": "https://api.example/me", "provider": "google"
    }));
    assert_eq!(validate_switches(&d, &catalog()), Ok(()));
    assert_eq!(validate_switches(&details(json!({})), &catalog()), Ok(()));
}

#[test]
fn switches_of_the_wrong_type_are_refused_with_a_reason() {
    let cases = [
        (json!({"pkce": "false"}), "pkce must be a boolean"),
        (
            json!({"tokenRequestFormat": "xml"}),
            "tokenRequestFormat must be",
        ),
        (
            json!({"tokenRequestFormat": true}),
            "tokenRequestFormat must be",
        ),
        (
            json!({"tokenLifetimeSeconds": 0}),
            "tokenLifetimeSeconds must be",
        ),
        (
            json!({"tokenLifetimeSeconds": -5}),
            "tokenLifetimeSeconds must be",
        ),
        (
            json!({"tokenLifetimeSeconds": 1.5}),
            "tokenLifetimeSeconds must be",
        ),
        (
            json!({"tokenLifetimeSeconds": "60"}),
            "tokenLifetimeSeconds must be",
        ),
        (
            json!({"tokenLifetimeSeconds": 315360001u64}),
            "tokenLifetimeSeconds must be",
        ),
        (
            json!({"refreshTokenURL": 5}),
            "refreshTokenURL must be a string",
        ),
        (
            json!({"discoveryURL": "not a url"}),
            "discoveryURL is not a valid",
        ),
        (
            json!({"testURL": "file:///etc/passwd"}),
            "testURL is not a valid",
        ),
        (json!({"provider": ["google"]}), "provider must be a string"),
        (
            json!({"provider": "nope"}),
            "provider \"nope\" is not in the provider catalog",
        ),
    ];
    for (d, reason) in cases {
        let err = validate_switches(&details(d.clone()), &catalog()).unwrap_err();
        assert!(err.to_string().starts_with(reason), "{d}: {err}");
    }
}

#[test]
fn without_a_provider_the_details_alone_decide() {
    let s = effective(
        &details(json!({"accessTokenURL": "https://idp/token", "scope": "a", "refreshAuthScheme": "basic_auth"})),
        &catalog(),
    )
    .unwrap();
    assert_eq!(s.token_url.as_deref(), Some("https://idp/token"));
    assert_eq!(s.refresh_endpoint(), Some("https://idp/token"));
    assert_eq!(s.authorization_url, None);
    assert_eq!(s.auth_scheme, AuthScheme::Basic);
    assert!(s.pkce);
    assert_eq!(s.token_request_format, TokenRequestFormat::Form);
    assert_eq!(s.token_lifetime, None);
    assert!(!s.needs_discovery());
}

#[test]
fn catalog_defaults_fill_in_and_details_win() {
    let d = details(json!({
        "provider": "microsoft-entra-id", "tenant": "contoso.onmicrosoft.com",
        "scope": "https://servicebus.azure.net/.default", "pkce": false
    }));
    let s = effective(&d, &catalog()).unwrap();
    assert_eq!(s.provider.as_deref(), Some("microsoft-entra-id"));
    assert_eq!(
        s.token_url.as_deref(),
        Some("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token")
    );
    assert_eq!(
        s.scope.as_deref(),
        Some("https://servicebus.azure.net/.default")
    );
    assert!(!s.pkce);
    let own = details(
        json!({"provider": "microsoft-entra-id", "tenant": "t", "accessTokenURL": "https://mine/token"}),
    );
    assert_eq!(
        effective(&own, &catalog()).unwrap().token_url.as_deref(),
        Some("https://mine/token")
    );
}

#[test]
fn a_missing_placeholder_names_itself() {
    let err = effective(
        &details(json!({"provider": "azure-service-bus"})),
        &catalog(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "authorizationTokenURL needs a \"tenant\" value in the details for its {tenant} placeholder"
    );
}

#[test]
fn auth_params_merge_with_details_replacing_same_names() {
    let d = details(
        json!({"provider": "google", "authParams": {"prompt": "select_account", "hd": "example.com"}}),
    );
    let s = effective(&d, &catalog()).unwrap();
    assert_eq!(
        s.auth_params,
        [
            ("access_type".to_owned(), "offline".to_owned()),
            ("prompt".to_owned(), "select_account".to_owned()),
            ("hd".to_owned(), "example.com".to_owned()),
        ]
    );
}

#[test]
fn catalog_switches_apply_unless_the_details_say_otherwise() {
    let operator = Catalog::parse(
        r#"[[provider]]
name = "acme"
displayName = "Acme"
grantTypes = ["CLIENT_CREDENTIALS"]
authorizationTokenURL = "https://acme.example/authorize"
accessTokenURL = "https://acme.example/token"
refreshTokenURL = "https://acme.example/refresh"
refreshAuthScheme = "basic_auth"
pkce = false
tokenRequestFormat = "json"
tokenLifetimeSeconds = 600
"#,
        "ops.toml",
    )
    .unwrap();
    let s = effective(&details(json!({"provider": "acme"})), &operator).unwrap();
    assert_eq!(s.refresh_endpoint(), Some("https://acme.example/refresh"));
    assert_eq!(
        (s.pkce, s.token_request_format),
        (false, TokenRequestFormat::Json)
    );
    assert_eq!(s.token_lifetime, Some(Duration::from_secs(600)));
    assert_eq!(s.auth_scheme, AuthScheme::Basic);
    let d = details(
        json!({"provider": "acme", "pkce": true, "tokenRequestFormat": "form",
        "tokenLifetimeSeconds": 60, "refreshAuthScheme": "req_body_params_auth"}),
    );
    let s = effective(&d, &operator).unwrap();
    assert_eq!(
        (s.pkce, s.token_request_format),
        (true, TokenRequestFormat::Form)
    );
    assert_eq!(s.token_lifetime, Some(Duration::from_secs(60)));
    assert_eq!(s.auth_scheme, AuthScheme::RequestBody);
}

/// The (authorization, token) endpoints of `d` after discovery answered.
fn discovered(d: Value) -> (Option<String>, Option<String>) {
    let metadata = Metadata {
        issuer: None,
        authorization_endpoint: Some("https://disc/authorize".into()),
        token_endpoint: "https://disc/token".into(),
    };
    let mut s = effective(&details(d), &catalog()).unwrap();
    assert!(s.needs_discovery());
    s.apply_discovery(&metadata);
    (s.authorization_url, s.token_url)
}

#[test]
fn discovery_fills_what_the_details_lack_even_over_catalog_defaults() {
    let doc = "https://disc/.well-known/openid-configuration";
    assert_eq!(
        discovered(json!({"discoveryURL": doc})),
        (
            Some("https://disc/authorize".into()),
            Some("https://disc/token".into())
        )
    );
    assert_eq!(
        discovered(
            json!({"provider": "google", "accessTokenURL": "https://own/token", "discoveryURL": doc})
        ),
        (
            Some("https://disc/authorize".into()),
            Some("https://own/token".into())
        )
    );
    let both = details(
        json!({"authorizationTokenURL": "https://a", "accessTokenURL": "https://t", "discoveryURL": doc}),
    );
    assert!(!effective(&both, &catalog()).unwrap().needs_discovery());
}

#[test]
fn a_secret_named_auth_param_is_refused() {
    let d = details(json!({"authParams": {"client_secret": "dummyClientSecret"}}));
    assert_eq!(
        effective(&d, &catalog()).unwrap_err(),
        DetailsError::SecretAuthParam("client_secret".into())
    );
}
