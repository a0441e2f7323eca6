//! SPEC §1 transport: health endpoints, GET and POST /graphql, body and method rules.

use reqwest::{Method, StatusCode};

use crate::helpers::*;

backend_tests!(healthz_and_readyz_answer_200_on_a_migrated_database,);

async fn healthz_and_readyz_answer_200_on_a_migrated_database(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for path in ["/healthz", "/readyz"] {
        let (status, _, body) = app::send(app.request(Method::GET, path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
}
