//! An identity-provider double: a real axum server on 127.0.0.1:0 that checks what a
//! real IdP checks — client authentication (body or Basic, never both), the PKCE
//! verifier against the challenge, the redirect URI, the JWT bearer assertion's
//! signature and claims, single use of authorization codes and of rotating refresh
//! tokens — and records every token request, with knobs for errors (with `Retry-After`),
//! slowness (of refreshes alone too), expiry, a switch that revokes every grant at the
//! provider, and for behaving like each provider family of SPEC §11 (string or missing
//! `expires_in`, extra answer members, callback values, PKCE refused, JSON bodies).
//!
//! Routes: `/authorize` and `/token` (also under `/{tenant}/…`, for catalog entries
//! with a `{tenant}` placeholder), `/refresh` (a separate refresh endpoint, same
//! rules), `/.well-known/openid-configuration` (discovery of the two), and
//! `/.well-known/private` (a discovery document naming a private token endpoint).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client the double knows.
pub const CLIENT_ID: &str = "client-1";
/// Its secret (a planted secret for leak tests).
pub const CLIENT_SECRET: &str = "planted-client-secret-5c1f";
/// The resource owner of the password grant.
pub const USERNAME: &str = "alice";
/// Her password (planted).
pub const PASSWORD: &str = "planted-password-93ad";

/// One token request as the double saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub grant_type: String,
    /// `basic`, `body` or `none`.
    pub client_auth: &'static str,
    pub params: HashMap<String, String>,
    /// The request path (`/token`, `/v2/token`, `/refresh`, `/{tenant}/token`).
    pub path: String,
    /// The request's `Content-Type`.
    pub content_type: String,
}

/// How issued tokens carry `expires_in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiresIn {
    /// A JSON number (RFC 6749).
    Number,
    /// A numeric string (Azure AD v1, NetSuite).
    Text,
    /// None at all (Salesforce).
    Absent,
}

/// What the double is told to do and what it saw.
pub struct Knobs {
    /// `expires_in` of issued tokens.
    pub expires_in: u64,
    /// Issue refresh tokens.
    pub issue_refresh_tokens: bool,
    /// Refresh answers carry no new refresh token (the old one stays valid).
    pub omit_refresh_token_on_refresh: bool,
    /// Answer every token request with this `(status, error, description)`.
    pub fail_with: Option<(u16, String, String)>,
    /// Send this `Retry-After` with a `fail_with` answer.
    pub retry_after: Option<String>,
    /// Wait this long before answering token requests.
    pub delay: Duration,
    /// Wait this much longer before answering refresh requests.
    pub refresh_delay: Duration,
    /// The RSA public key (PEM) JWT bearer assertions must be signed with.
    pub assertion_key: Option<String>,
    /// Accept unsecured (`alg: none`) assertions.
    pub accept_unsigned: bool,
    /// How `expires_in` is sent.
    pub expires_in_as: ExpiresIn,
    /// `token_type` of issued tokens; none sends no `token_type`.
    pub token_type: Option<String>,
    /// Further members of every token answer (e.g. `instance_url`).
    pub extra_members: serde_json::Map<String, Value>,
    /// Further query parameters of the authorization redirect (e.g. `realmId`).
    pub callback_values: Vec<(String, String)>,
    /// Refuse PKCE like some IdPs do: a `code_challenge` or `code_verifier` is an error.
    pub reject_pkce: bool,
    /// Accept only `application/json` token requests.
    pub require_json: bool,
    /// The client secret this IdP knows for [`CLIENT_ID`] (default [`CLIENT_SECRET`]).
    pub client_secret: String,
}

impl Default for Knobs {
    fn default() -> Self {
        Self {
            expires_in: 3600,
            issue_refresh_tokens: true,
            omit_refresh_token_on_refresh: false,
            fail_with: None,
            retry_after: None,
            delay: Duration::ZERO,
            refresh_delay: Duration::ZERO,
            assertion_key: None,
            accept_unsigned: false,
            expires_in_as: ExpiresIn::Number,
            token_type: Some("bearer".into()),
            extra_members: serde_json::Map::new(),
            callback_values: Vec::new(),
            reject_pkce: false,
            require_json: false,
            client_secret: CLIENT_SECRET.to_owned(),
        }
    }
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
}

#[derive(Default)]
struct Ledger {
    codes: HashMap<String, PendingCode>,
    live_refresh_tokens: HashSet<String>,
    /// Every refresh token ever presented, in order.
    presented_refresh_tokens: Vec<String>,
    /// Refresh requests refused because the token was unknown or already used.
    refused_refreshes: u32,
    issued_access_tokens: Vec<String>,
    issued_refresh_tokens: Vec<String>,
    requests: Vec<SeenRequest>,
    /// Token requests received (counted before any delay).
    started: u32,
    counter: u64,
}

struct Inner {
    knobs: Mutex<Knobs>,
    ledger: Mutex<Ledger>,
    address: SocketAddr,
}

/// A running IdP double; stops with the test's runtime.
#[derive(Clone)]
pub struct IdpDouble(Arc<Inner>);

impl IdpDouble {
    /// Starts a double with default knobs.
    pub async fn start() -> Self {
        Self::start_with(Knobs::default()).await
    }

    /// Starts a double with `knobs`.
    pub async fn start_with(knobs: Knobs) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let double = Self(Arc::new(Inner {
            knobs: Mutex::new(knobs),
            ledger: Mutex::new(Ledger::default()),
            address,
        }));
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/refresh", post(token))
            .route("/{tenant}/authorize", get(authorize))
            .route("/{tenant}/token", post(token))
            .route(
                "/.well-known/openid-configuration",
                get(|State(double): State<IdpDouble>| async move {
                    Json(json!({
                        "issuer": double.url(""),
                        "authorization_endpoint": double.url("/authorize"),
                        "token_endpoint": double.url("/token"),
                    }))
                }),
            )
            .route(
                "/.well-known/private",
                get(|| async {
                    Json(json!({
                        "authorization_endpoint": "https://10.20.30.40/authorize",
                        "token_endpoint": "https://10.20.30.40/token",
                    }))
                }),
            )
            // The same endpoint under another path of the same origin.
            .route("/v2/token", post(token))
            // Misbehaving endpoints, for the client's safety rules.
            .route(
                "/redirecting-token",
                post(|| async { Redirect::temporary("/token") }),
            )
            .route(
                "/huge-token",
                // A valid token response, padded to 2 MiB: only the size cap refuses it.
                post(|| async {
                    let body = format!(
                        r#"{{"access_token":"huge","token_type":"bearer"{}}}"#,
                        " ".repeat(2 << 20)
                    );
                    ([(header::CONTENT_TYPE, "application/json")], body)
                }),
            )
            .with_state(double.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        double
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.0.address)
    }

    /// Changes the knobs.
    pub fn set(&self, change: impl FnOnce(&mut Knobs)) {
        change(&mut self.0.knobs.lock().unwrap());
    }

    /// Every token request seen so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.0.ledger.lock().unwrap().requests.clone()
    }

    /// Token requests received so far, answered or not (counted before any delay).
    pub fn started_requests(&self) -> u32 {
        self.0.ledger.lock().unwrap().started
    }

    /// An administrator revokes every grant at the provider: each refresh token issued
    /// so far is refused with `invalid_grant` from now on.
    pub fn revoke_refresh_tokens(&self) {
        self.0.ledger.lock().unwrap().live_refresh_tokens.clear();
    }

    /// Every refresh token presented so far, in order.
    pub fn presented_refresh_tokens(&self) -> Vec<String> {
        self.0
            .ledger
            .lock()
            .unwrap()
            .presented_refresh_tokens
            .clone()
    }

    /// Refresh requests refused as unknown or reused.
    pub fn refused_refreshes(&self) -> u32 {
        self.0.ledger.lock().unwrap().refused_refreshes
    }

    /// Every access and refresh token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        let ledger = self.0.ledger.lock().unwrap();
        ledger
            .issued_access_tokens
            .iter()
            .chain(&ledger.issued_refresh_tokens)
            .cloned()
            .collect()
    }

    /// The last access token issued.
    pub fn last_access_token(&self) -> Option<String> {
        self.0
            .ledger
            .lock()
            .unwrap()
            .issued_access_tokens
            .last()
            .cloned()
    }

    fn issue(&self, scope: Option<&str>, with_refresh: bool) -> Value {
        let knobs = self.0.knobs.lock().unwrap();
        let mut ledger = self.0.ledger.lock().unwrap();
        ledger.counter += 1;
        let n = ledger.counter;
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let access = format!("planted-access-{n}-{nonce}");
        ledger.issued_access_tokens.push(access.clone());
        let mut body = Value::Object(knobs.extra_members.clone());
        body["access_token"] = json!(access);
        if let Some(token_type) = &knobs.token_type {
            body["token_type"] = json!(token_type);
        }
        match knobs.expires_in_as {
            ExpiresIn::Number => body["expires_in"] = json!(knobs.expires_in),
            ExpiresIn::Text => body["expires_in"] = json!(knobs.expires_in.to_string()),
            ExpiresIn::Absent => {}
        }
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        if with_refresh && knobs.issue_refresh_tokens {
            let refresh = format!("planted-refresh-{n}-{nonce}");
            ledger.live_refresh_tokens.insert(refresh.clone());
            ledger.issued_refresh_tokens.push(refresh.clone());
            body["refresh_token"] = json!(refresh);
        }
        body
    }
}

/// GET /authorize: checks the request, then redirects with a fresh code and the state.
async fn authorize(
    State(double): State<IdpDouble>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let (reject_pkce, extra) = {
        let knobs = double.0.knobs.lock().unwrap();
        (knobs.reject_pkce, knobs.callback_values.clone())
    };
    let pkce_ok = if reject_pkce {
        !params.contains_key("code_challenge") && !params.contains_key("code_challenge_method")
    } else {
        get("code_challenge_method") == "S256" && !get("code_challenge").is_empty()
    };
    if get("response_type") != "code"
        || get("client_id") != CLIENT_ID
        || !pkce_ok
        || get("state").is_empty()
        || get("redirect_uri").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    double.0.ledger.lock().unwrap().codes.insert(
        code.clone(),
        PendingCode {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            challenge: get("code_challenge"),
        },
    );
    let separator = if get("redirect_uri").contains('?') {
        '&'
    } else {
        '?'
    };
    let extra: String = extra
        .iter()
        .map(|(k, v)| format!("&{}={}", urlencode(k), urlencode(v)))
        .collect();
    Redirect::to(&format!(
        "{}{separator}code={code}&state={}{extra}",
        get("redirect_uri"),
        urlencode(&get("state"))
    ))
    .into_response()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// The client the request authenticates as: `Ok(None)` for no authentication.
fn client_auth(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    known_secret: &str,
) -> Result<(Option<String>, &'static str), Box<Response>> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let body_secret = params.get("client_secret");
    let (id, secret, how) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(Box::new(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "more than one client authentication method",
            )));
        }
        (Some(encoded), None) => {
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or_default();
            (form_decode(id), form_decode(secret), "basic")
        }
        (None, Some(secret)) => (
            params.get("client_id").cloned().unwrap_or_default(),
            secret.clone(),
            "body",
        ),
        (None, None) => return Ok((None, "none")),
    };
    if id != CLIENT_ID || secret != known_secret {
        return Err(Box::new(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )));
    }
    Ok((Some(id), how))
}

fn form_decode(s: &str) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded_pairs(&format!("x={s}"))
        .into_iter()
        .collect();
    pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default()
}

fn serde_urlencoded_pairs(s: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{s}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

/// The token request's parameters: a form body, or a JSON object of strings.
fn token_params(content_type: &str, body: &[u8]) -> Option<HashMap<String, String>> {
    if content_type.starts_with("application/json") {
        let map: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
        map.into_iter()
            .map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect()
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded_pairs(std::str::from_utf8(body).ok()?)
            .into_iter()
            .map(Some)
            .collect()
    } else {
        None
    }
}

/// POST /token: the four grants and refresh.
async fn token(
    State(double): State<IdpDouble>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    double.0.ledger.lock().unwrap().started += 1;
    let (mut delay, failure, retry_after, reject_pkce, require_json, known_secret) = {
        let knobs = double.0.knobs.lock().unwrap();
        (
            knobs.delay,
            knobs.fail_with.clone(),
            knobs.retry_after.clone(),
            knobs.reject_pkce,
            knobs.require_json,
            knobs.client_secret.clone(),
        )
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(params) = token_params(&content_type, &body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "unreadable body",
        );
    };
    let grant_type = params.get("grant_type").cloned().unwrap_or_default();
    if grant_type == "refresh_token" {
        delay += double.0.knobs.lock().unwrap().refresh_delay;
    }
    tokio::time::sleep(delay).await;
    let auth = client_auth(&headers, &params, &known_secret);
    double.0.ledger.lock().unwrap().requests.push(SeenRequest {
        grant_type: grant_type.clone(),
        client_auth: auth.as_ref().map(|(_, how)| *how).unwrap_or("invalid"),
        params: params.clone(),
        path: uri.path().to_owned(),
        content_type: content_type.clone(),
    });
    if let Some((status, error, description)) = failure {
        let mut response = oauth_error(StatusCode::from_u16(status).unwrap(), &error, &description);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.parse().unwrap());
        }
        return response;
    }
    if require_json && !content_type.starts_with("application/json") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "JSON expected");
    }
    let (client, _) = match auth {
        Ok(found) => found,
        Err(response) => return *response,
    };
    let scope = params.get("scope").map(String::as_str);
    let unauthenticated = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication required",
        )
    };
    match grant_type.as_str() {
        "client_credentials" => {
            if client.is_none() {
                return unauthenticated();
            }
            Json(double.issue(scope, false)).into_response()
        }
        "password" => {
            if client.is_none() {
                return unauthenticated();
            }
            if params.get("username").map(String::as_str) != Some(USERNAME)
                || params.get("password").map(String::as_str) != Some(PASSWORD)
            {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "bad credentials");
            }
            Json(double.issue(scope, true)).into_response()
        }
        "authorization_code" => {
            if client.is_none() {
                return unauthenticated();
            }
            let code = params.get("code").cloned().unwrap_or_default();
            // Single use: the code is gone after the first attempt, right or wrong.
            let Some(pending) = double.0.ledger.lock().unwrap().codes.remove(&code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or used code",
                );
            };
            let verifier = params.get("code_verifier").cloned().unwrap_or_default();
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            let pkce_ok = if reject_pkce {
                !params.contains_key("code_verifier") && pending.challenge.is_empty()
            } else {
                challenge == pending.challenge
            };
            if !pkce_ok {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "PKCE verification failed",
                );
            }
            if params.get("redirect_uri") != Some(&pending.redirect_uri)
                || pending.client_id != CLIENT_ID
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            Json(double.issue(scope, true)).into_response()
        }
        "refresh_token" => {
            if client.is_none() {
                return unauthenticated();
            }
            let presented = params.get("refresh_token").cloned().unwrap_or_default();
            let rotate = !double.0.knobs.lock().unwrap().omit_refresh_token_on_refresh;
            {
                let mut ledger = double.0.ledger.lock().unwrap();
                ledger.presented_refresh_tokens.push(presented.clone());
                let live = if rotate {
                    ledger.live_refresh_tokens.remove(&presented)
                } else {
                    ledger.live_refresh_tokens.contains(&presented)
                };
                if !live {
                    ledger.refused_refreshes += 1;
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "refresh token unknown or already used",
                    );
                }
            }
            Json(double.issue(scope, rotate)).into_response()
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let assertion = params.get("assertion").cloned().unwrap_or_default();
            match check_assertion(&double, &assertion) {
                Ok(()) => Json(double.issue(scope, false)).into_response(),
                Err(reason) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &reason),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unknown grant",
        ),
    }
}

/// RFC 7523 §3: signature, `iss`, `sub`, `aud` (this token endpoint), `exp`.
fn check_assertion(double: &IdpDouble, assertion: &str) -> Result<(), String> {
    let (key, accept_unsigned) = {
        let knobs = double.0.knobs.lock().unwrap();
        (knobs.assertion_key.clone(), knobs.accept_unsigned)
    };
    let claims: Value = if assertion.ends_with('.') && accept_unsigned {
        let mut parts = assertion.split('.');
        let header: Value = decode_part(parts.next())?;
        if header["alg"] != "none" {
            return Err("unexpected alg".into());
        }
        decode_part(parts.next())?
    } else {
        let key = key.ok_or("no key configured")?;
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(key.as_bytes()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[double.url("/token")]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        jsonwebtoken::decode::<Value>(assertion, &decoding, &validation)
            .map_err(|e| format!("assertion rejected: {e}"))?
            .claims
    };
    if claims["iss"] != CLIENT_ID || claims["sub"].as_str().is_none_or(str::is_empty) {
        return Err("bad iss or sub".into());
    }
    if claims["aud"] != double.url("/token") {
        return Err("bad aud".into());
    }
    if claims["exp"]
        .as_i64()
        .is_none_or(|exp| exp <= chrono::Utc::now().timestamp())
    {
        return Err("expired assertion".into());
    }
    Ok(())
}

fn decode_part(part: Option<&str>) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.unwrap_or_default())
        .map_err(|_| "bad base64")?;
    serde_json::from_slice(&bytes).map_err(|_| "bad json".to_owned())
}
