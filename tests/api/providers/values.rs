//! Provider values (SPEC §11): kept from token answers (Salesforce's `instance_url`)
//! and from the callback (QuickBooks' `realmId`), encrypted with the token, shown in
//! `tokenStatus` and to the runtime, merged on refresh — never a secret-named member.

use serde_json::json;

use super::*;
use crate::idp_double::Knobs;

backend_tests!(
    instance_url_is_kept_encrypted_and_merged_on_refresh,
    realm_id_from_the_callback_is_kept_with_the_token,
    provider_values_never_hold_a_secret_named_member,
);

fn members(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!(),
    }
}

async fn instance_url_is_kept_encrypted_and_merged_on_refresh(backend: Backend) {
    let instance = "https://eu1-instance-7d2e.my.salesforce.com";
    let Some((idp, app)) = start(
        backend,
        Knobs {
            extra_members: members(json!({ "instance_url": instance, "issued_at": "1" })),
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    generated(&ui, password_input()).await;
    assert_eq!(
        provider_values(&ui).await,
        json!({ "instance_url": instance, "issued_at": "1" })
    );
    let read = runtime_read(&app).await;
    let shown: serde_json::Value =
        serde_json::from_str(read["providerValues"].as_str().unwrap()).unwrap();
    assert_eq!(shown["instance_url"], instance);
    assert!(
        !app.dump_database_text().await.contains("eu1-instance-7d2e"),
        "provider values are stored encrypted"
    );

    // The refresh answer repeats only `issued_at`: the held `instance_url` stays.
    idp.set(|k| k.extra_members = members(json!({ "issued_at": "2" })));
    refresh(&ui).await;
    assert_eq!(
        provider_values(&ui).await,
        json!({ "instance_url": instance, "issued_at": "2" })
    );
}

async fn realm_id_from_the_callback_is_kept_with_the_token(backend: Backend) {
    let Some((idp, app)) = start(
        backend,
        Knobs {
            callback_values: vec![("realmId".into(), "4620816365".into())],
            extra_members: members(json!({ "x_refresh_token_expires_in": 8726400 })),
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    authorize(&app, &ui).await;
    assert_eq!(
        provider_values(&ui).await,
        json!({ "realmId": "4620816365", "x_refresh_token_expires_in": 8726400 })
    );
    // A refresh answer without realmId keeps it.
    refresh(&ui).await;
    assert_eq!(provider_values(&ui).await["realmId"], "4620816365");
}

async fn provider_values_never_hold_a_secret_named_member(backend: Backend) {
    let planted = format!("planted-pv-{}", uuid::Uuid::new_v4().simple());
    let Some((idp, app)) = start(
        backend,
        Knobs {
            extra_members: members(json!({
                "instance_url": "https://na1.example.com",
                "client_secret": format!("{planted}-a"),
                "Private-Key": format!("{planted}-b"),
                "password": format!("{planted}-c"),
                "id_token": format!("{planted}-d"),
            })),
            callback_values: vec![
                ("realmId".into(), "42".into()),
                ("clientSecret".into(), format!("{planted}-e")),
                ("refresh_token".into(), format!("{planted}-f")),
            ],
            ..Knobs::default()
        },
    )
    .await
    else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    save_details(&ui, &idp, json!({})).await;
    authorize(&app, &ui).await;
    let values = provider_values(&ui).await;
    assert_eq!(
        values,
        json!({ "realmId": "42", "instance_url": "https://na1.example.com" })
    );
    let read = runtime_read(&app).await;
    assert!(!read.to_string().contains(&planted), "{read}");
    assert!(!app.dump_database_text().await.contains(&planted));
    assert!(!crate::helpers::logs::captured().contains(&planted));
}
