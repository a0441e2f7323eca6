//! The GraphiQL page for browsers (SPEC §1), opening with a header editor template that
//! holds `SPACE_GUID` and `Authorization` (pre-filled with a dev token in dev mode).

use serde_json::json;

/// Renders the page; `headers` is the header editor's starting content.
pub fn page(space_guid: &str, authorization: &str) -> String {
    let headers = json!({ "SPACE_GUID": space_guid, "Authorization": authorization });
    let headers = serde_json::to_string_pretty(&headers).unwrap_or_default();
    // The JSON goes into a <script> as a JS string literal; escaping `<` keeps a
    // `</script>` in a header value from ending the script.
    let headers_literal = serde_json::to_string(&headers)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="robots" content="noindex">
  <title>spaces-oauth GraphiQL</title>
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="https://unpkg.com/graphiql@3/graphiql.min.css">
  <script crossorigin src="https://unpkg.com/react@18/umd/react.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/react-dom@18/umd/react-dom.production.min.js"></script>
  <script crossorigin src="https://unpkg.com/graphiql@3/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script>
    const defaultHeaders = {headers_literal};
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {{
        fetcher,
        defaultHeaders,
        headerEditorEnabled: true,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: 'headers',
      }})
    );
  </script>
</body>
</html>
"#
    )
}
