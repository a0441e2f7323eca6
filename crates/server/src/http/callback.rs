//! `GET /oauth2/callback` and `GET /account/{accountId}/oauth2/callback` (SPEC §6): where
//! the IdP sends the browser after an authorization. The exchange itself is the
//! resolver's; this answers the small page that says how it went and tells the Space UI
//! through `window.opener.postMessage`. IdP text is shown HTML-escaped, never as markup.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use resolver::tokens::CallbackUrls;
use resolver::tokens::callback::{self, CallbackError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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

/// The query string an IdP sends back (RFC 6749 §4.1.2).
#[derive(Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/oauth2/callback`.
pub async fn callback(
    State(state): State<AppState>,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    handle(&state, params, None).await
}

/// `/account/{accountId}/oauth2/callback`: the state must belong to that account.
pub async fn account_callback(
    State(state): State<AppState>,
    Path(account_id): Path<String>,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    handle(&state, params, Some(account_id)).await
}

async fn handle(
    state: &AppState,
    params: Result<Query<CallbackParams>, QueryRejection>,
    account: Option<String>,
) -> Response {
    let Ok(Query(params)) = params else {
        return page(Outcome::failure(
            "invalid_request",
            "The callback is malformed.",
        ));
    };
    let services = &state.services;
    if let Some(error) = params.error {
        // The IdP refused (e.g. the user denied access): the state is spent either way.
        if let Some(s) = &params.state
            && let Err(err) = callback::abandon(services, s).await
        {
            tracing::warn!(error = %err, "cannot discard the state of a refused authorization");
        }
        let description = params.error_description.unwrap_or_default();
        return page(Outcome::failure(&error, &description));
    }
    let (Some(code), Some(s)) = (params.code, params.state) else {
        return page(Outcome::failure(
            "invalid_request",
            "The callback lacks the code or state parameter.",
        ));
    };
    match callback::complete(services, &s, &code, account.as_deref()).await {
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

/// Posts `{type, status, error}` to the opener; the data comes from escaped attributes,
/// so no IdP text is ever part of the script.
const SCRIPT: &str = "(function(){var r=document.getElementById('result');\
var m={type:'spaces-oauth-token',status:r.getAttribute('data-status'),\
error:r.getAttribute('data-error')||null};\
if(window.opener){window.opener.postMessage(m,'*');}})();";

fn page(outcome: Outcome) -> Response {
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
         <main id=\"result\" data-status=\"{data_status}\" data-error=\"{data_error}\">{body}</main>\
         <script>{SCRIPT}</script></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    if let Ok(csp) =
        HeaderValue::from_str(&format!("default-src 'none'; script-src 'sha256-{hash}'"))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The URL holds the authorization code: never send it on as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
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
    use super::escape;

    #[test]
    fn markup_from_an_idp_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
