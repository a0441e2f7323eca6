//! The events of the connection lifecycle (SPEC §10, §12): a transient refresh failure,
//! the recovery and a terminal refusal each reach the webhook receiver, with the
//! failure's code and the IdP's `error`, never a secret.

use std::time::Duration;

use super::*;
use crate::helpers::webhooks::Receiver;
use crate::idp_double::Knobs;
use crate::tokens::{connected, generate, password_input};

backend_tests!(refresh_failure_recovery_and_refusal_each_emit_their_event);

async fn refresh_failure_recovery_and_refusal_each_emit_their_event(backend: Backend) {
    let receiver = Receiver::start(&[]).await;
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 12,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn_with_webhooks(backend, vec![receiver.url()], |config| {
        config.refresh_interval_seconds = 0.3;
        config.refresh_ahead_seconds = 11;
    })
    .await
    else {
        return;
    };
    let ui = connected(&app, &idp).await;
    let body = generate(&ui, password_input()).await;
    assert!(body.get("errors").is_none(), "{body}");
    idp.set(|k| {
        k.fail_with = Some((503, "temporarily_unavailable".into(), "maintenance".into()));
    });
    receiver.wait_for(2, Duration::from_secs(5)).await;
    // Back after the refresher's 5 s backoff.
    idp.set(|k| k.fail_with = None);
    receiver.wait_for(3, Duration::from_secs(10)).await;
    // The next due refresh is refused for good.
    idp.revoke_refresh_tokens();
    let received = receiver.wait_for(4, Duration::from_secs(10)).await;

    let bodies: Vec<_> = received.iter().map(|r| r.json()).collect();
    let kinds: Vec<_> = bodies.iter().map(|b| b["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            "connection.token_generated",
            "connection.refresh_failed",
            "connection.recovered",
            "connection.needs_reauthorization",
        ],
        "{bodies:?}"
    );
    assert_eq!(bodies[1]["data"]["connectionStatus"], "REFRESH_FAILING");
    assert_eq!(
        bodies[1]["data"]["error"],
        json!({ "code": "IDP_TOKEN_REQUEST_FAILED", "idpError": "temporarily_unavailable" })
    );
    assert_eq!(bodies[2]["data"]["connectionStatus"], "ACTIVE");
    assert!(bodies[2]["data"]["error"].is_null());
    assert_eq!(
        bodies[3]["data"]["connectionStatus"],
        "NEEDS_REAUTHORIZATION"
    );
    assert_eq!(
        bodies[3]["data"]["error"],
        json!({ "code": "REAUTHORIZATION_REQUIRED", "idpError": "invalid_grant" })
    );
    for delivery in &received {
        for secret in idp.issued_tokens() {
            assert!(!delivery.body.contains(&secret));
        }
        assert!(!delivery.body.contains(PLANTED_SECRET));
    }
}
