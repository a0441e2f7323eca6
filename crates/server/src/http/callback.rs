//! `GET /oauth2/callback` and `GET /account/{accountId}/oauth2/callback` (SPEC §6): where
//! the IdP sends the browser after an authorization. The exchange itself is the
//! resolver's; this answers the small page that says how it went and tells the Space UI
//! through `window.opener.postMessage`. IdP text is shown HTML-escaped, never as markup.

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use resolver::tokens::CallbackUrls;
use resolver::tokens::callback::{self, CallbackError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::rate_limit;
use crate::listen::ClientAddr;
use crate::state::AppState;

/// The route of the callback.
pub const PATH: &str = "/oauth2/callback";

/// The route of the per-account callback.
pub const ACCOUNT_PATH: &str = "/account/{account_id}/oauth2/callback";

/// The callback URLs under `public_base_url`, for the resolver to check `redirectUri`
/// against (it does not know these routes).
pub fn urls(public_base_url: String) -> CallbackUrls {
    CallbackUrls {
        base: public_base_url,
        path: PATH.to_owned(),
        account_path: ACCOUNT_PATH
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| match segment {
                "{account_id}" => CallbackUrls::ACCOUNT.to_owned(),
                other => other.to_owned(),
            })
            .collect(),
    }
}

/// The query string an IdP sends back (RFC 6749 §4.1.2), every pair kept: the ones
/// besides `code`, `state`, `error*` and `iss` are provider values (SPEC §11).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct CallbackParams(Vec<(String, String)>);

impl CallbackParams {
    /// The last value of `name`.
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rfind(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

/// `/oauth2/callback`.
pub async fn callback(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    limited(&state, client, || handle(&state, params, None)).await
}

/// `/account/{accountId}/oauth2/callback`: the state must belong to that account.
pub async fn account_callback(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddr>>,
    Path(account_id): Path<String>,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    limited(&state, client, || handle(&state, params, Some(account_id))).await
}

/// Runs `next` unless the client's address is over its callback rate (SPEC §13): the
/// callback is public and every call with a `state` costs a database statement, so
/// the limit comes first. 429 with `Retry-After` and a page saying so.
async fn limited<F: Future<Output = Response>>(
    state: &AppState,
    client: Option<Extension<ClientAddr>>,
    next: impl FnOnce() -> F,
) -> Response {
    if let Some(Extension(ConnectInfo(addr))) = client
        && let Err(refused) = state
            .callback_limiter
            .check(&rate_limit::client_key(addr.ip()), 1)
    {
        let mut response = render(
            Outcome::failure(
                "rate_limited",
                "Too many authorization callbacks from this address; try again shortly.",
            ),
            &state.space_ui_origins,
        );
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        if let Some(seconds) = refused.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return response;
    }
    next().await
}

async fn handle(
    state: &AppState,
    params: Result<Query<CallbackParams>, QueryRejection>,
    account: Option<String>,
) -> Response {
    let page = |outcome| render(outcome, &state.space_ui_origins);
    let Ok(Query(params)) = params else {
        return page(Outcome::failure(
            "invalid_request",
            "The callback is malformed.",
        ));
    };
    let services = &state.services;
    if let Some(error) = params.get("error") {
        // The IdP refused (e.g. the user denied access): the state is spent either way.
        if let Some(s) = &params.get("state")
            && let Err(err) = callback::abandon(services, s).await
        {
            tracing::warn!(error = %err, "cannot discard the state of a refused authorization");
        }
        let description = params.get("error_description").unwrap_or_default();
        return page(Outcome::failure(&error, &description));
    }
    let (Some(code), Some(s)) = (params.get("code"), params.get("state")) else {
        return page(Outcome::failure(
            "invalid_request",
            "The callback lacks the code or state parameter.",
        ));
    };
    let values = idp::ProviderValues::from_callback_query(params.0);
    match callback::complete(services, &s, &code, account.as_deref(), values).await {
        Ok(_) => page(Outcome::Success),
        Err(CallbackError::UnknownState) => page(Outcome::failure(
            "invalid_state",
            &CallbackError::UnknownState.to_string(),
        )),
        Err(CallbackError::Failed(err)) => {
            let code = match err.idp_error() {
                Some(idp) => idp.to_owned(),
                None => err.code().as_str().to_ascii_lowercase(),
            };
            let message = match &err {
                resolver::ApiError::Internal(_) | resolver::ApiError::DatabaseUnavailable(_) => {
                    tracing::error!(error = %err, "authorization callback failed");
                    "The token could not be stored; try again.".to_owned()
                }
                other => other.to_string(),
            };
            page(Outcome::failure(&code, &message))
        }
    }
}

enum Outcome {
    Success,
    Failure { error: String, description: String },
}

impl Outcome {
    fn failure(error: &str, description: &str) -> Self {
        Self::Failure {
            error: error.chars().take(100).collect(),
            description: description.chars().take(500).collect(),
        }
    }
}

/// Posts `{type, status, error}` to the opener, addressed to each configured Space UI
/// origin (never `'*'`: the message must not reach whatever page opened this one); the
/// data comes from escaped attributes, so no IdP text is ever part of the script.
const SCRIPT: &str = "(function(){var r=document.getElementById('result');\
var m={type:'spaces-oauth-token',status:r.getAttribute('data-status'),\
error:r.getAttribute('data-error')||null};\
var o=(r.getAttribute('data-origins')||'').split(' ').filter(Boolean);\
if(window.opener){o.forEach(function(t){window.opener.postMessage(m,t);});}})();";

fn render(outcome: Outcome, origins: &str) -> Response {
    let (status, data_status, data_error, title, body) = match &outcome {
        Outcome::Success => (
            StatusCode::OK,
            "success",
            String::new(),
            "Access token generated",
            "<h1>Access token received</h1>\
             <p>The access token was received and generated. You can close this window.</p>"
                .to_owned(),
        ),
        Outcome::Failure { error, description } => (
            StatusCode::BAD_REQUEST,
            "error",
            escape(error),
            "Access token not generated",
            format!(
                "<h1>Access token not generated</h1>\
                 <p>The identity provider answered: <code>{}</code></p><p>{}</p>",
                escape(error),
                escape(description)
            ),
        ),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head><body>\
         <main id=\"result\" data-status=\"{data_status}\" data-error=\"{data_error}\" \
         data-origins=\"{origins}\">{body}</main>\
         <script>{SCRIPT}</script></body></html>",
        origins = escape(origins)
    );
    let mut response = (status, Html(html)).into_response();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    // The URL holds the authorization code: `no-referrer` keeps it from going on.
    super::set_page_headers(
        response.headers_mut(),
        &format!("default-src 'none'; script-src 'sha256-{hash}'"),
    );
    response
}

/// The origins the callback page posts its message to: `SPACE_UI_ORIGINS`, else those
/// of `CORS_ALLOWED_ORIGINS`, without `*`; each must be a bare `scheme://host[:port]`.
pub fn space_ui_origins(configured: &[String], cors: &[String]) -> anyhow::Result<String> {
    let source = if configured.is_empty() {
        cors
    } else {
        configured
    };
    let mut origins = Vec::new();
    for origin in source.iter().map(|o| o.trim().trim_end_matches('/')) {
        if origin.is_empty() || origin == "*" {
            continue;
        }
        let parsed = reqwest::Url::parse(origin)
            .map_err(|_| anyhow::anyhow!("SPACE_UI_ORIGINS: {origin:?} is not an origin"))?;
        anyhow::ensure!(
            parsed.origin().ascii_serialization() == origin,
            "SPACE_UI_ORIGINS: {origin:?} is not an origin (scheme://host[:port])"
        );
        origins.push(origin.to_owned());
    }
    Ok(origins.join(" "))
}

/// HTML-escapes text for element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, space_ui_origins};

    #[test]
    fn the_message_goes_to_configured_origins_never_to_any() {
        let cors = ["https://ui.example.com/".to_owned(), "*".to_owned()];
        assert_eq!(
            space_ui_origins(&[], &cors).ok().as_deref(),
            Some("https://ui.example.com")
        );
        let own = [
            "https://a.example".to_owned(),
            "http://b.example:3000".to_owned(),
        ];
        assert_eq!(
            space_ui_origins(&own, &cors).ok().as_deref(),
            Some("https://a.example http://b.example:3000")
        );
        assert!(space_ui_origins(&["https://a.example/path".to_owned()], &[]).is_err());
        assert!(space_ui_origins(&["a b".to_owned()], &[]).is_err());
    }

    #[test]
    fn markup_from_an_idp_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
