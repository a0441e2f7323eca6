//! The GraphiQL page for browsers (SPEC §1), opening with a header editor template that
//! holds `SPACE_GUID` and `Authorization` (pre-filled with a dev token in dev mode).
//!
//! GraphiQL, React and ReactDOM are embedded in the binary at pinned versions
//! (assets/graphiql, re-vendored by its `vendor.sh`) and served from our own paths, so
//! the page works without internet and a strict Content-Security-Policy keeps it from
//! loading or sending anything anywhere but this server.

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Where the assets are served; the versions are in the path, so a browser may cache
/// them for good and an upgrade is fetched afresh.
pub const ASSET_PREFIX: &str = "/graphiql/graphiql-3.9.0-react-18.3.1";

/// Where GraphiQL sends subscriptions (over WebSocket, same host).
const SUBSCRIPTION_PATH: &str = "/graphql/ws";

/// The embedded files: name, media type, content.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql/init.js"),
    ),
];

/// `GET /graphiql/<versions>/{file}`: one embedded asset.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some((_, media_type, body)) = ASSETS.iter().find(|(name, _, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, *media_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response()
}

/// The page: `headers` is the header editor's starting content; `host` the request's
/// `Host`, used to allow the WebSocket of subscriptions in the CSP when it is a plain
/// host name (otherwise only `'self'` is allowed, which CSP 3 browsers match to ws too).
pub fn page(space_guid: &str, authorization: &str, host: Option<&str>) -> Response {
    let config = json!({
        "headers": serde_json::to_string_pretty(
            &json!({ "SPACE_GUID": space_guid, "Authorization": authorization })
        )
        .unwrap_or_default(),
        "subscriptionPath": SUBSCRIPTION_PATH,
    });
    // JSON in a <script> block: escaping `<` keeps a `</script>` in a value from ending it.
    let config = serde_json::to_string(&config)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="robots" content="noindex">
  <title>spaces-oauth GraphiQL</title>
  <link rel="stylesheet" href="{ASSET_PREFIX}/graphiql.min.css">
  <script src="{ASSET_PREFIX}/react.production.min.js"></script>
  <script src="{ASSET_PREFIX}/react-dom.production.min.js"></script>
  <script src="{ASSET_PREFIX}/graphiql.min.js"></script>
</head>
<body style="margin: 0">
  <div id="graphiql" style="height: 100vh">Loading GraphiQL…</div>
  <script id="graphiql-config" type="application/json">{config}</script>
  <script src="{ASSET_PREFIX}/init.js"></script>
</body>
</html>
"#
    );
    let mut response = (StatusCode::OK, axum::response::Html(html)).into_response();
    super::set_page_headers(response.headers_mut(), &content_security_policy(host));
    response
}

/// Scripts, styles and connections from this server only. GraphiQL's editors set
/// inline styles and its CSS embeds its fonts and icons as `data:` URLs.
fn content_security_policy(host: Option<&str>) -> String {
    let websocket = host
        .filter(|h| is_plain_host(h))
        .map(|h| format!(" ws://{h} wss://{h}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         font-src 'self' data:; img-src 'self' data:; connect-src 'self'{websocket}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// A `Host` value safe to copy into a header: name or address and an optional port.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// The `Host` of a request, if readable.
pub fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_allows_the_websocket_of_a_plain_host_only() {
        assert!(content_security_policy(Some("127.0.0.1:8080")).contains("ws://127.0.0.1:8080"));
        let odd = content_security_policy(Some("evil; script-src *"));
        assert!(!odd.contains("evil"), "{odd}");
    }
}
