//! Refresh (on demand and on read), revoke, reset, invalidation by a settings change,
//! and the scope rule of the runtime's token query (SPEC §3, §6).

use serde_json::json;

use super::*;
use crate::idp_double::Knobs;

backend_tests!(
    the_token_query_needs_the_token_read_scope_and_stays_in_the_tenant,
    a_token_expiring_within_a_minute_is_refreshed_on_read,
    refresh_presents_each_rotated_refresh_token_once,
    a_refresh_answer_without_a_refresh_token_keeps_the_old_one,
    a_failed_refresh_keeps_the_valid_token_and_records_the_error,
    revoke_forgets_the_token,
    reset_drops_the_token,
    changing_the_client_id_invalidates_the_token_but_an_unchanged_save_keeps_it,
    the_list_shows_each_records_own_token_status,
    aliased_refreshes_of_busy_leases_wait_one_lease_wait_in_all,
);

async fn read_token(app: &TestApp) -> serde_json::Value {
    runtime(app, ACCOUNT, SAMPLE_SPACE)
        .data(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await["iPackInstanceOauthAccessToken"]
        .clone()
}

async fn status(ui: &Tenant<'_>) -> serde_json::Value {
    ui.data(STATUS, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await["IPackInstanceOAuthConnectorDetails"]
        .clone()
}

async fn the_token_query_needs_the_token_read_scope_and_stays_in_the_tenant(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;

    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    let (_, _, body) = ui.graphql(TOKEN, variables.clone()).await;
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHORIZED"), "{body}");
    let other_scope = Tenant {
        token: app
            .token_builder(ACCOUNT)
            .space(SAMPLE_SPACE)
            .scope("oauth.token.write openid")
            .sign(),
        ..app.tenant(ACCOUNT, SAMPLE_SPACE)
    };
    let (_, _, body) = other_scope.graphql(TOKEN, variables.clone()).await;
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHORIZED"));

    assert_eq!(
        read_token(&app).await["accessToken"],
        idp.last_access_token().unwrap()
    );
    let (_, _, body) = runtime(&app, "another-account", SAMPLE_SPACE)
        .graphql(TOKEN, variables)
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
}

async fn a_token_expiring_within_a_minute_is_refreshed_on_read(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        expires_in: 30,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let first = idp.last_access_token().unwrap();

    let token = read_token(&app).await;
    assert_ne!(token["accessToken"], first);
    assert_eq!(token["accessToken"], idp.last_access_token().unwrap());
    let grants: Vec<String> = idp.requests().into_iter().map(|r| r.grant_type).collect();
    assert_eq!(grants, ["password", "refresh_token"]);
    assert!(status(&ui).await["tokenStatus"]["lastRefreshedAt"].is_string());

    // Client-credentials tokens have no refresh token: the grant is simply asked again.
    generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let cc = idp.last_access_token().unwrap();
    assert_ne!(read_token(&app).await["accessToken"], cc);
    assert_eq!(
        idp.requests().last().unwrap().grant_type,
        "client_credentials"
    );
}

async fn refresh_presents_each_rotated_refresh_token_once(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    for _ in 0..3 {
        let data = ui.data(REFRESH, variables.clone()).await;
        let record = &data["refreshIPackInstanceOauthAccessToken"];
        assert_eq!(record["isTokenGenerated"], true);
        assert!(record["tokenStatus"]["lastRefreshedAt"].is_string());
        assert!(record["tokenStatus"]["lastError"].is_null());
    }
    let presented = idp.presented_refresh_tokens();
    assert_eq!(presented.len(), 3);
    let mut unique = presented.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "a refresh token was presented twice");
    assert_eq!(idp.refused_refreshes(), 0);
    assert_eq!(
        read_token(&app).await["accessToken"],
        idp.last_access_token().unwrap()
    );
}

async fn a_refresh_answer_without_a_refresh_token_keeps_the_old_one(backend: Backend) {
    let idp = IdpDouble::start_with(Knobs {
        omit_refresh_token_on_refresh: true,
        ..Knobs::default()
    })
    .await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let variables = json!({ "input": key_input(SAMPLE_SPACE) });
    for _ in 0..2 {
        let data = ui.data(REFRESH, variables.clone()).await;
        assert_eq!(
            data["refreshIPackInstanceOauthAccessToken"]["tokenStatus"]["hasRefreshToken"],
            true
        );
    }
    let presented = idp.presented_refresh_tokens();
    assert_eq!(presented.len(), 2);
    assert_eq!(presented[0], presented[1]);
    assert_eq!(idp.refused_refreshes(), 0);
}

async fn a_failed_refresh_keeps_the_valid_token_and_records_the_error(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let held = idp.last_access_token().unwrap();

    // A transient failure (SPEC §10); terminal ones are in `failures`.
    idp.set(|k| k.fail_with = Some((503, "server_error".into(), "the IdP is down".into())));
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("IDP_TOKEN_REQUEST_FAILED")
    );
    assert_eq!(body["errors"][0]["extensions"]["idpError"], "server_error");

    let record = status(&ui).await;
    assert_eq!(record["isTokenGenerated"], true);
    assert!(
        record["tokenStatus"]["lastError"]
            .as_str()
            .unwrap()
            .contains("the IdP is down")
    );
    assert_eq!(read_token(&app).await["accessToken"], held);
    let row = token_row(&app).await.unwrap();
    assert_eq!(row.failure_count, 1);
    assert!(row.next_attempt_at.is_some());
    assert!(row.lease_owner.is_none());

    idp.set(|k| k.fail_with = None);
    let data = ui
        .data(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert!(data["refreshIPackInstanceOauthAccessToken"]["tokenStatus"]["lastError"].is_null());
}

async fn revoke_forgets_the_token(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, password_input()).await;
    let data = ui
        .data(REVOKE, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    let record = &data["revokeIPackInstanceOauthAccessToken"];
    assert_eq!(record["isTokenGenerated"], false);
    assert!(record["tokenStatus"].is_null());
    assert!(token_row(&app).await.is_none());
    let (_, _, body) = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .graphql(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
    let (_, _, body) = ui
        .graphql(REFRESH, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
}

async fn reset_drops_the_token(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = connected(&app, &idp).await;
    generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;
    let data = ui
        .data(RESET, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(
        data["resetIPackInstanceOauthClientSecret"]["isTokenGenerated"],
        false
    );
    assert!(token_row(&app).await.is_none());
}

async fn changing_the_client_id_invalidates_the_token_but_an_unchanged_save_keeps_it(
    backend: Backend,
) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let text = details(&idp, json!({}));
    save_connector(&ui, &text).await;
    generate(&ui, generate_input(SAMPLE_SPACE, "CLIENT_CREDENTIALS")).await;

    let same = save_input(SAMPLE_SPACE)
        .with("oauthConnectorDetails", text.as_str())
        .with("clientId", crate::idp_double::CLIENT_ID)
        .with("isTokenGenerated", true);
    assert_eq!(ui.save(same.clone()).await["isTokenGenerated"], true);
    assert!(status(&ui).await["tokenStatus"].is_object());
    assert_eq!(
        read_token(&app).await["accessToken"],
        idp.last_access_token().unwrap()
    );

    let saved = ui.save(same.with("clientId", "another-client")).await;
    assert_eq!(saved["isTokenGenerated"], false);
    assert!(status(&ui).await["tokenStatus"].is_null());
    let (_, _, body) = runtime(&app, ACCOUNT, SAMPLE_SPACE)
        .graphql(TOKEN, json!({ "input": key_input(SAMPLE_SPACE) }))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
    assert!(token_row(&app).await.is_none());
}

async fn the_list_shows_each_records_own_token_status(backend: Backend) {
    let idp = IdpDouble::start().await;
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    // "3" holds a token, "4" never had one, "5" had one until its client id changed.
    for connection in ["3", "4", "5"] {
        save_with_secret(&ui, &idp, connection, crate::idp_double::CLIENT_SECRET).await;
    }
    for connection in ["3", "5"] {
        assert!(
            client_credentials(&ui, connection)
                .await
                .get("errors")
                .is_none()
        );
    }
    let changed = details(&idp, json!({ "clientId": "another-client" }));
    ui.save(
        save_input(SAMPLE_SPACE)
            .with("connectionId", "5")
            .with("oauthConnectorDetails", changed)
            .with("clientId", "another-client"),
    )
    .await;

    let list = ui
        .data(
            "query L($id: String!) { iPackInstanceOauthConnectorDetailsList(integrationPackInstanceId: $id) { connectionId isTokenGenerated tokenStatus { grantType hasRefreshToken } } }",
            json!({ "id": "test-101" }),
        )
        .await["iPackInstanceOauthConnectorDetailsList"]
        .clone();
    let by_connection = |c: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["connectionId"] == c)
            .unwrap_or_else(|| panic!("no record {c} in {list}"))
            .clone()
    };
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    assert_eq!(
        by_connection("3")["tokenStatus"]["grantType"],
        "CLIENT_CREDENTIALS"
    );
    assert!(by_connection("4")["tokenStatus"].is_null());
    assert!(by_connection("5")["tokenStatus"].is_null());
    assert_eq!(by_connection("5")["isTokenGenerated"], false);
    // The single-record query agrees with the list.
    assert_eq!(
        status(&ui).await["tokenStatus"]["grantType"],
        "CLIENT_CREDENTIALS"
    );
}

async fn aliased_refreshes_of_busy_leases_wait_one_lease_wait_in_all(backend: Backend) {
    use entity::oauth_token::{Column, Entity};
    use sea_orm::EntityTrait;
    use sea_orm::sea_query::Expr;

    let idp = IdpDouble::start().await;
    // IDP_TIMEOUT_SECONDS is 2 here: a request waits 4 s in all for busy leases.
    let Some(app) = spawn(backend).await else {
        return;
    };
    let ui = app.tenant(ACCOUNT, SAMPLE_SPACE);
    let connections = ["1", "2", "3", "4"];
    for connection in connections {
        save_with_secret(&ui, &idp, connection, crate::idp_double::CLIENT_SECRET).await;
        assert!(
            client_credentials(&ui, connection)
                .await
                .get("errors")
                .is_none()
        );
    }
    // Another replica holds every lease for a minute.
    let db = app.db();
    let until = resolver::db_clock::now_plus(
        db.get_database_backend(),
        std::time::Duration::from_secs(60),
    );
    Entity::update_many()
        .col_expr(Column::LeaseOwner, Expr::value("another-replica/1"))
        .col_expr(Column::LeaseExpiresAt, until)
        .exec(db)
        .await
        .expect("cannot take the leases");

    // Mutation fields run one after another: without one budget for the request, each
    // would wait 4 s of its own (16 s).
    let fields: String = connections
        .iter()
        .map(|c| {
            format!(
                "r{c}: refreshIPackInstanceOauthAccessToken(input: {{ integrationPackInstanceId: \"test-101\", processId: \"1\", envId: \"2\", connectionId: \"{c}\", catalogGuid: \"{SAMPLE_SPACE}\" }}) {{ isTokenGenerated }}"
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let (_, _, body) = ui
        .graphql(&format!("mutation {{ {fields} }}"), json!({}))
        .await;
    let took = started.elapsed();
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        took < std::time::Duration::from_secs(8),
        "four busy refreshes waited {took:?}, more than one lease wait (4 s) in all"
    );
    for connection in connections {
        assert_eq!(
            body["data"][format!("r{connection}")]["isTokenGenerated"],
            true
        );
    }
    // Only the four generations reached the IdP: a busy lease is not refreshed around.
    assert_eq!(idp.started_requests(), 4);
}
