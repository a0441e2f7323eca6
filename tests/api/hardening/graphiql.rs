//! GraphiQL works without internet (SPEC §1): the page loads only assets the binary
//! embeds, under a Content-Security-Policy that allows this server alone.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn get_html(app: &TestApp, path: &str) -> reqwest::Response {
    app.request(Method::GET, path)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphiql_page_loads_only_embedded_assets_under_a_strict_csp() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = get_html(&app, "/graphql").await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains(&format!("ws://{}", app.address)),
        "subscriptions may reach this server: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("://"),
        "no absolute URL in the page:\n{html}"
    );
    let sources: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/"))
        .collect();
    assert_eq!(
        sources.len(),
        5,
        "css, react, react-dom, graphiql, init: {html}"
    );
    for source in sources {
        let asset = app.request(Method::GET, source).send().await.unwrap();
        assert_eq!(asset.status(), StatusCode::OK, "{source}");
        let media_type = asset.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            media_type.starts_with("text/javascript") || media_type.starts_with("text/css"),
            "{source}: {media_type}"
        );
        assert!(asset.bytes().await.unwrap().len() > 100, "{source}");
    }
    let missing = app
        .request(Method::GET, "/graphiql/graphiql-3.9.0-react-18.3.1/nope.js")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}
