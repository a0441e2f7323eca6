//! Tests of the shipped catalog and of reading operator files.

use super::*;

const OPERATOR: &str = r#"
[[provider]]
name = "acme"
displayName = "Acme IdP"
grantTypes = ["CLIENT_CREDENTIALS", "AUTHORIZATION_CODE"]
authorizationTokenURL = "http://127.0.0.1:9999/{tenant}/authorize"
accessTokenURL = "http://127.0.0.1:9999/{tenant}/token"
refreshTokenURL = "http://127.0.0.1:9999/{tenant}/refresh/{region}"
refreshAuthScheme = "basic_auth"
pkce = false
tokenRequestFormat = "json"
tokenLifetimeSeconds = 600
"#;

#[test]
fn the_shipped_catalog_has_the_spec_providers() {
    let catalog = Catalog::shipped().unwrap();
    for name in [
        "box",
        "salesforce",
        "quickbooks-online",
        "microsoft-entra-id",
        "azure-service-bus",
        "google",
        "hubspot",
    ] {
        assert!(catalog.get(name).is_some(), "{name}");
    }
    let entra = catalog.get("microsoft-entra-id").unwrap();
    assert_eq!(entra.placeholders, ["tenant"]);
    let google = catalog.get("google").unwrap();
    assert_eq!(google.auth_params["access_type"], "offline");
    assert_eq!(google.auth_params["prompt"], "consent");
    let qbo = catalog.get("quickbooks-online").unwrap();
    assert_eq!(qbo.refresh_auth_scheme, AuthScheme::Basic);
    assert!(catalog.get("Box").is_none(), "names are exact");
}

#[test]
fn an_operator_entry_is_read_whole() {
    let catalog = Catalog::parse(OPERATOR, "ops.toml").unwrap();
    let acme = catalog.get("acme").unwrap();
    assert_eq!(
        acme.grant_types,
        [GrantType::ClientCredentials, GrantType::AuthorizationCode]
    );
    assert_eq!(acme.placeholders, ["tenant", "region"]);
    assert_eq!(acme.pkce, Some(false));
    assert_eq!(acme.token_request_format, Some(TokenRequestFormat::Json));
    assert_eq!(acme.token_lifetime_seconds, Some(600));
    assert_eq!(acme.refresh_auth_scheme, AuthScheme::Basic);
}

#[test]
fn operator_entries_replace_shipped_ones_of_the_same_name() {
    let operator = Catalog::parse(&OPERATOR.replace("\"acme\"", "\"box\""), "ops.toml").unwrap();
    let shipped = Catalog::shipped().unwrap();
    let count = shipped.providers().len();
    let merged = shipped.with_operator_entries(operator);
    assert_eq!(merged.providers().len(), count);
    assert_eq!(merged.get("box").unwrap().display_name, "Acme IdP");
    let merged = merged.with_operator_entries(Catalog::parse(OPERATOR, "ops.toml").unwrap());
    assert_eq!(merged.providers().len(), count + 1);
}

fn error(text: &str) -> CatalogError {
    Catalog::parse(text, "ops.toml").unwrap_err()
}

#[test]
fn an_unknown_key_is_refused_with_its_line_and_entry() {
    let err = error(&OPERATOR.replace("pkce = false", "pkce = false\ncolour = \"red\""));
    assert_eq!(err.line(), Some(11));
    assert_eq!(err.entry(), Some("acme"));
    let text = err.to_string();
    assert!(
        text.starts_with("ops.toml, line 11 (provider \"acme\"): "),
        "{text}"
    );
    assert!(text.contains("colour"), "{text}");
}

#[test]
fn a_syntax_error_names_its_line() {
    let err = error("[[provider]]\nname = \"x\"\ndisplayName = \n");
    assert_eq!(err.line(), Some(3));
}

#[test]
fn wrong_values_are_refused_at_their_line() {
    let cases = [
        (
            "grantTypes = [\"CLIENT_CREDENTIALS\", \"AUTHORIZATION_CODE\"]",
            "grantTypes = [\"IMPLICIT\"]",
            5,
        ),
        (
            "grantTypes = [\"CLIENT_CREDENTIALS\", \"AUTHORIZATION_CODE\"]",
            "grantTypes = []",
            5,
        ),
        (
            "accessTokenURL = \"http://127.0.0.1:9999/{tenant}/token\"",
            "accessTokenURL = \"not a url\"",
            7,
        ),
        (
            "accessTokenURL = \"http://127.0.0.1:9999/{tenant}/token\"",
            "accessTokenURL = \"ftp://x/y\"",
            7,
        ),
        ("tokenLifetimeSeconds = 600", "tokenLifetimeSeconds = 0", 12),
        (
            "tokenRequestFormat = \"json\"",
            "tokenRequestFormat = \"xml\"",
            11,
        ),
        (
            "refreshAuthScheme = \"basic_auth\"",
            "refreshAuthScheme = \"digest\"",
            9,
        ),
        ("name = \"acme\"", "name = \"has space\"", 3),
    ];
    for (from, to, line) in cases {
        let err = error(&OPERATOR.replace(from, to));
        assert_eq!(err.line(), Some(line), "{to}: {err}");
    }
}

#[test]
fn missing_required_keys_and_secret_auth_params_are_refused() {
    let err = error(&OPERATOR.replace("refreshAuthScheme = \"basic_auth\"\n", ""));
    assert!(err.to_string().contains("refreshAuthScheme"), "{err}");
    assert_eq!(err.entry(), Some("acme"));
    let err = error(&format!(
        "{OPERATOR}\n[provider.authParams]\nclient_secret = \"x\"\n"
    ));
    assert!(err.to_string().contains("secret-named"), "{err}");
}

#[test]
fn a_duplicate_name_in_one_file_is_refused() {
    let err = error(&format!("{OPERATOR}{OPERATOR}"));
    assert_eq!(err.line(), Some(15));
    assert!(err.to_string().contains("already"), "{err}");
}

#[test]
fn an_unreadable_file_is_an_error_naming_it() {
    let err = Catalog::load(Some(Path::new("/nonexistent/providers.toml"))).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/providers.toml: cannot be read"),
        "{err}"
    );
    assert_eq!(Catalog::load(None).unwrap(), Catalog::shipped().unwrap());
}
