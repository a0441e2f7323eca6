//! The JWT bearer grant (RFC 7523 §2.1), which the `oauth2` crate lacks: the assertion
//! (signed RS256 with the caller's key, or unsecured when asked), the form request (as
//! JSON when `tokenRequestFormat` says so), and the answer read by idp's parser like
//! every other grant's.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::http::{HeaderValue, Method, Request, header};
use oauth2::url::form_urlencoded;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::grants::{IssuedToken, SetByRequest, answered, token_params, unreachable};
use super::http::IdpClient;
use super::settings::IdpSettings;
use crate::error::{ApiError, ApiResult};

/// The grant type URN of RFC 7523 §2.1.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The longest assertion lifetime accepted, in seconds.
pub const MAX_LIFETIME_SECONDS: i64 = 3600;

/// What the assertion says and how it is signed (SPEC §6 `jwt {…}`).
pub struct AssertionParams {
    /// PEM RSA private key; required unless `unsigned`.
    pub signing_key: Option<SecretString>,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    pub lifetime_seconds: i64,
    /// Extra claims, a JSON object string.
    pub claims: Option<String>,
    /// Send an unsecured JWT (`alg: none`), for IdPs that want one.
    pub unsigned: bool,
}

/// Builds the assertion. Extra claims are added first; the named fields win.
pub fn assertion(params: &AssertionParams) -> ApiResult<SecretString> {
    if !(1..=MAX_LIFETIME_SECONDS).contains(&params.lifetime_seconds) {
        return Err(ApiError::invalid_input(
            "jwt",
            format!("jwt.expiresInSeconds must be 1 to {MAX_LIFETIME_SECONDS}"),
        ));
    }
    let mut claims = match params.claims.as_deref().map(serde_json::from_str::<Value>) {
        None => Map::new(),
        Some(Ok(Value::Object(map))) => map,
        Some(_) => {
            return Err(ApiError::invalid_input(
                "jwt",
                "jwt.claims must be a JSON object string",
            ));
        }
    };
    let now = chrono::Utc::now().timestamp();
    for (name, value) in [
        ("iss", json!(params.issuer)),
        ("sub", json!(params.subject)),
        ("aud", json!(params.audience)),
        ("iat", json!(now)),
        ("exp", json!(now + params.lifetime_seconds)),
        ("jti", json!(crate::random_uuid().to_string())),
    ] {
        claims.insert(name.to_owned(), value);
    }
    if params.unsigned {
        // RFC 7519 §6.1: an unsecured JWT has an empty signature part.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
        return Ok(SecretString::from(format!("{header}.{body}.")));
    }
    let pem = params.signing_key.as_ref().ok_or_else(|| {
        ApiError::invalid_input("jwt", "jwt.signingKey is required unless jwt.unsigned")
    })?;
    let key = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes()).map_err(|_| {
        ApiError::invalid_input("jwt", "jwt.signingKey is not a PEM RSA private key")
    })?;
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).map_err(|_| {
            ApiError::invalid_input(
                "jwt",
                "the assertion could not be signed with jwt.signingKey",
            )
        })?;
    Ok(SecretString::from(token))
}

/// Sends the JWT bearer token request; client authentication per `refreshAuthScheme`
/// when a client secret is stored (RFC 7523 §3.1 makes it optional).
pub async fn request(
    idp: &IdpClient,
    settings: &IdpSettings,
    assertion: &SecretString,
) -> ApiResult<IssuedToken> {
    let mut request = build_request(idp, settings, assertion)?;
    if settings.request_format() == idp::TokenRequestFormat::Json {
        request = idp::exchange::form_to_json(request);
    }
    let response = settings
        .sender(idp)
        .send(request)
        .await
        .map_err(|e| unreachable(&e))?;
    answered(&response, settings)
}

fn build_request(
    idp: &IdpClient,
    settings: &IdpSettings,
    assertion: &SecretString,
) -> ApiResult<oauth2::HttpRequest> {
    let url = settings.token_url()?;
    idp.policy()
        .check(&url)
        .map_err(ApiError::InvalidConnectorDetails)?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", GRANT_TYPE);
    form.append_pair("assertion", assertion.expose_secret());
    if !settings.scopes.is_empty() {
        form.append_pair("scope", &settings.scopes.join(" "));
    }
    let set = SetByRequest::new(settings, "JWT bearer", &["assertion"], true, false);
    for (name, value) in token_params(settings, &set)? {
        form.append_pair(name, value);
    }
    let mut basic = None;
    if let Some(secret) = &settings.client_secret {
        let client_id = settings.require_client_id()?;
        if settings.basic_auth() {
            // RFC 6749 §2.3.1: both parts form-encoded before base64.
            let user: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
            let pass: String =
                form_urlencoded::byte_serialize(secret.expose_secret().as_bytes()).collect();
            basic = Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{pass}"))
            ));
        } else {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret.expose_secret());
        }
    }
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::ACCEPT, HeaderValue::from_static("application/json"))
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    if let Some(value) = basic {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder
        .body(form.finish().into_bytes())
        .map_err(ApiError::internal)
}
