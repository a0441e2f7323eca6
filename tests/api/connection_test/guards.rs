//! `testRequest` under the outbound guards (SPEC §12, §9): a refusal by the API is a
//! failed step with its status, a `testURL` on a private or loopback address the
//! operator did not name is refused before any connection, a `testURL` moved to another
//! host gets neither the held token nor one made with the kept secrets, and neither the
//! token nor the client secret appears in an answer or a log line.

use serde_json::json;

use super::*;
use crate::helpers::logs;
use crate::idp_double::{CLIENT_SECRET, Knobs};
use crate::tokens::STATUS;

backend_tests!(
    a_test_url_answering_401_fails_the_test_request_with_the_status,
    a_test_url_on_a_private_address_is_refused_without_connecting,
    no_token_or_secret_appears_in_an_answer_or_the_log,
    pointing_the_test_url_at_another_host_drops_the_token_and_the_secrets,
);

async fn a_test_url_answering_401_fails_the_test_request_with_the_status(backend: Backend) {
    let Some(setup) = Setup::client_credentials(backend, Knobs::default(), CLIENT_SECRET).await
    else {
        return;
    };
    let ui = setup.ui();
    let Setup { api, .. } = &setup;
    api.answer(401);
    let body = test_connection(&ui).await;
    let answer = answer(&body);
    assert_eq!(answer["ok"], false);
    assert_eq!(
        outline(answer),
        [
            passed("details"),
            passed("clientSecret"),
            passed("token"),
            failed("testRequest", "TEST_REQUEST_FAILED")
        ]
    );
    assert!(message(answer, "testRequest").contains("401"), "{body}");
    assert_eq!(api.seen().len(), 1);
}

async fn a_test_url_on_a_private_address_is_refused_without_connecting(backend: Backend) {
    let idp = IdpDouble::start().await;
    let tripwire = Tripwire::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // The tests allow 127.0.0.1 by address (for the doubles), not `localhost`: a name
    // that resolves only to loopback addresses is refused when it resolves.
    let by_name = format!("https://localhost:{}/me", tripwire.port);
    // A private address is refused before anything is resolved or sent.
    for url in [
        by_name.as_str(),
        "https://10.1.2.3/me",
        "https://[fd00::1]/me",
    ] {
        let extra = json!({ "grantType": "CLIENT_CREDENTIALS", "testURL": url });
        save(&ui, &details(&idp, extra), CLIENT_SECRET).await;
        let body = test_connection(&ui).await;
        let answer = answer(&body);
        assert_eq!(
            outline(answer).last(),
            Some(&failed("testRequest", "TEST_REQUEST_FAILED")),
            "{url}: {body}"
        );
        let why = message(answer, "testRequest");
        assert!(
            why.contains("private") || why.contains("no address the server may call"),
            "{url}: {why}"
        );
    }
    assert_eq!(tripwire.accepted(), 0, "a refused testURL was connected to");
}

async fn no_token_or_secret_appears_in_an_answer_or_the_log(backend: Backend) {
    let Some(setup) = Setup::client_credentials(backend, Knobs::default(), CLIENT_SECRET).await
    else {
        return;
    };
    let ui = setup.ui();
    let Setup { idp, api, .. } = &setup;
    let mut answers = vec![test_connection(&ui).await];
    api.answer(401);
    answers.push(test_connection(&ui).await);
    api.answer(500);
    answers.push(test_connection(&ui).await);
    assert_eq!(answer(&answers[0])["ok"], true, "{}", answers[0]);
    assert_eq!(api.seen().len(), 3);

    let mut planted = vec![CLIENT_SECRET.to_owned()];
    planted.extend(idp.issued_tokens());
    assert!(planted.len() >= 2, "{planted:?}");
    let log = logs::captured();
    // The capture holds this server's tests, so its silence means something.
    assert!(log.contains("connection tested"));
    for secret in &planted {
        for body in &answers {
            assert!(!body.to_string().contains(secret.as_str()), "{body}");
        }
        assert!(!log.contains(secret.as_str()), "the log holds {secret}");
    }
}

async fn pointing_the_test_url_at_another_host_drops_the_token_and_the_secrets(backend: Backend) {
    let Some(setup) = Setup::client_credentials(backend, Knobs::default(), CLIENT_SECRET).await
    else {
        return;
    };
    let ui = setup.ui();
    let Setup { idp, api, .. } = &setup;
    assert_eq!(answer(&test_connection(&ui).await)["ok"], true);

    // Another path on the same origin keeps the token and the secrets.
    let moved = |url: String| json!({ "grantType": "CLIENT_CREDENTIALS", "testURL": url });
    save(
        &ui,
        &details(idp, moved(format!("{}?v=2", api.url()))),
        "dummyClientSecret",
    )
    .await;
    assert_eq!(answer(&test_connection(&ui).await)["ok"], true);
    assert_eq!(idp.requests().len(), 1, "the held token was used");
    assert_eq!(api.seen().len(), 2);

    // Another host: whoever may edit the record cannot have the token sent there,
    // neither the held one nor a new one requested with the kept client secret.
    let elsewhere = ApiDouble::start().await;
    save(
        &ui,
        &details(idp, moved(elsewhere.url())),
        "dummyClientSecret",
    )
    .await;
    let status = ui
        .data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let record = &status["IPackInstanceOAuthConnectorDetails"];
    assert_eq!(record["isTokenGenerated"], false, "{status}");
    assert!(record["tokenStatus"].is_null(), "{status}");
    let body = test_connection(&ui).await;
    assert_eq!(
        outline(answer(&body)),
        [
            passed("details"),
            failed("clientSecret", "CLIENT_SECRET_REQUIRED")
        ]
    );
    assert!(elsewhere.seen().is_empty());
    assert_eq!(idp.requests().len(), 1);

    // Entering the secret again is the owner's decision: then the test runs there.
    save(&ui, &details(idp, moved(elsewhere.url())), CLIENT_SECRET).await;
    assert_eq!(answer(&test_connection(&ui).await)["ok"], true);
    assert_eq!(elsewhere.seen().len(), 1);
}
