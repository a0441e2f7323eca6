//! Secrets stay with their identity provider (SPEC §10): the vaulted client secret and
//! the vaulted detail values of a record are tied to where tokens were requested from
//! when they were saved — the origins (scheme, host, port) of `accessTokenURL`,
//! `refreshTokenURL` and `authorizationTokenURL`, and the values of `discoveryURL` and
//! `provider`. A URL the details leave to the catalog entry named by `provider` counts
//! as the entry's URL with the details' placeholders filled (a `{tenant}` can move a
//! host), and the endpoints of a `discoveryURL` document are allowed because the
//! document's URL is bound. The binding's hash is stored beside the ciphertexts
//! (`connector_details.secret_binding`); this module is the one place that computes
//! it, compares it (in Rust and in the save's SQL) and says where a secret may go.
//!
//! Without it, anyone who may edit a record could point `accessTokenURL` at a host
//! of their own, keep the placeholder for the secret, press Generate and receive the
//! vaulted secret there.

use std::collections::BTreeSet;

use entity::connector_details::{Column, Entity, Model as Record};
use oauth2::url::Url;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiResult;

/// Details keys whose URL's origin the secrets are tied to (a path change keeps them).
const URL_KEYS: [&str; 3] = ["accessTokenURL", "refreshTokenURL", "authorizationTokenURL"];

/// Details keys whose whole value the secrets are tied to: a discovery document or a
/// catalog entry decides the endpoints, so any change of them moves the secrets.
const VALUE_KEYS: [&str; 2] = ["discoveryURL", "provider"];

/// The details key of the URL Test Connection sends the access token to (SPEC §12).
pub const TOKEN_RECIPIENT: &str = "testURL";

/// The upsert's test that the saved record keeps the identity provider it had: its
/// vaulted values may then stay (see `new_secret::sealed_client_secret_on_conflict`).
pub const KEPT_ON_CONFLICT: &str = "connector_details.secret_binding = excluded.secret_binding";

/// Rows backfilled per statement batch at start-up.
const BACKFILL_BATCH: u64 = 200;

/// Where a record's vaulted secrets may be sent, as its details say now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretBinding {
    /// The http(s) origins of the URL keys, e.g. `https://login.example.com:8443`.
    origins: BTreeSet<String>,
    hash: String,
}

impl SecretBinding {
    /// The binding of a details object (masked or not: only non-secret keys are read).
    /// Placeholders (`{tenant}`) are filled first, since a value can move a host; a URL
    /// the details do not give is the `provider` entry's of `catalog` (SPEC §11).
    pub fn of(details: &Map<String, Value>, catalog: &idp::Catalog) -> Self {
        let provider = details
            .get("provider")
            .and_then(Value::as_str)
            .and_then(|name| catalog.get(name.trim()));
        let mut hasher = Sha256::new();
        let mut origins = BTreeSet::new();
        let mut part = |name: &str, value: Option<&str>| {
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
            match value {
                Some(value) => {
                    hasher.update([1]);
                    hasher.update((value.len() as u64).to_be_bytes());
                    hasher.update(value.as_bytes());
                }
                None => hasher.update([0]),
            }
        };
        for key in URL_KEYS {
            let origin = text(details, key)
                .or_else(|| provider.and_then(|p| catalog_url(p, key)))
                .map(|template| origin_of(&template, details, key));
            part(key, origin.as_deref());
            if let Some(origin) = origin.filter(|o| !o.starts_with(UNPARSED)) {
                origins.insert(origin);
            }
        }
        for key in VALUE_KEYS {
            part(key, text(details, key).as_deref());
        }
        // The details' `testURL` receives the access token, never a secret (SPEC §12):
        // its origin is bound, so pointing Test Connection at another host drops the
        // secrets a new token would be requested with, but requests there are not
        // allowed to carry them. Hashed only when present: bindings saved before
        // `testURL` existed are unchanged.
        if let Some(url) = text(details, TOKEN_RECIPIENT) {
            part(
                TOKEN_RECIPIENT,
                Some(&origin_of(&url, details, TOKEN_RECIPIENT)),
            );
        }
        Self {
            origins,
            hash: hex::encode(hasher.finalize()),
        }
    }

    /// The binding of a stored record's details (a text that is not a JSON object has
    /// no URLs).
    pub fn of_record(record: &Record, catalog: &idp::Catalog) -> Self {
        Self::of_text(&record.oauth_connector_details, catalog)
    }

    fn of_text(details: &str, catalog: &idp::Catalog) -> Self {
        match serde_json::from_str::<Value>(details) {
            Ok(Value::Object(details)) => Self::of(&details, catalog),
            _ => Self::of(&Map::new(), catalog),
        }
    }

    /// Also allows the endpoints a `discoveryURL` document names: the secrets are tied
    /// to the document's URL, so to what it says (the hash is unchanged).
    pub fn allow_discovered(&mut self, metadata: &idp::Metadata) {
        let endpoints = [
            metadata.authorization_endpoint.as_deref(),
            Some(metadata.token_endpoint.as_str()),
        ];
        for url in endpoints.into_iter().flatten() {
            if let Ok(url) = Url::parse(url)
                && matches!(url.scheme(), "http" | "https")
            {
                self.origins.insert(url.origin().ascii_serialization());
            }
        }
    }

    /// The hash stored in `connector_details.secret_binding`.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// True when secrets stored under `stored` (a record's `secret_binding`) belong
    /// here. A record without a binding (saved before bindings, not yet backfilled)
    /// ties its secrets to nothing.
    pub fn holds(&self, stored: Option<&str>) -> bool {
        stored == Some(self.hash.as_str())
    }

    /// True when a request to `url` may carry the secrets: its origin is one of the
    /// origins they are tied to.
    pub fn allows(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https")
            && self.origins.contains(&url.origin().ascii_serialization())
    }
}

/// The URL template of `provider` for the details key `key`.
fn catalog_url(provider: &idp::Provider, key: &str) -> Option<String> {
    match key {
        "accessTokenURL" => Some(provider.access_token_url.clone()),
        "authorizationTokenURL" => Some(provider.authorization_token_url.clone()),
        "refreshTokenURL" => provider.refresh_token_url.clone(),
        _ => None,
    }
}

/// Marks an origin that is not an http(s) URL: the whole value is bound instead.
const UNPARSED: &str = "unparsed:";

/// The origin of a URL template (placeholders filled), or the template itself when it
/// is not an http(s) URL: then any change to it counts.
pub fn origin_of(template: &str, details: &Map<String, Value>, key: &str) -> String {
    let filled = idp::placeholders::fill(template, details, key);
    match filled.as_deref().map(Url::parse) {
        Ok(Ok(url)) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            url.origin().ascii_serialization()
        }
        _ => format!("{UNPARSED}{template}"),
    }
}

/// A non-empty value of the details, a string as it is (trimmed), anything else as
/// its JSON text (a wrong type is refused on save; here it must still bind).
fn text(details: &Map<String, Value>, key: &str) -> Option<String> {
    match details.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        other => Some(other.to_string()),
    }
}

/// The next batch of records without a binding (id, details): read through the partial
/// index `connector_details_unbound`, so the start-up backfill costs nothing once every
/// record is bound (issue 20).
pub fn unbound() -> sea_orm::Select<Entity> {
    Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::OauthConnectorDetails)
        .filter(Column::SecretBinding.is_null())
        .limit(BACKFILL_BATCH)
}

/// Computes the binding of records saved before bindings existed (run at start-up,
/// after migrations): their secrets are tied to the settings they have now. Each
/// update applies only if the details are still the ones read. Returns the rows bound.
pub async fn backfill(db: &impl ConnectionTrait, catalog: &idp::Catalog) -> ApiResult<u64> {
    let mut bound = 0;
    loop {
        let batch: Vec<(uuid::Uuid, String)> = unbound().into_tuple().all(db).await?;
        if batch.is_empty() {
            return Ok(bound);
        }
        let mut progressed = false;
        for (id, details) in batch {
            let binding = SecretBinding::of_text(&details, catalog);
            let result = Entity::update_many()
                .col_expr(
                    Column::SecretBinding,
                    Expr::value(binding.hash().to_owned()),
                )
                .filter(Column::Id.eq(id))
                .filter(Column::SecretBinding.is_null())
                .filter(Column::OauthConnectorDetails.eq(details))
                .exec(db)
                .await?;
            if result.rows_affected == 1 {
                bound += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Ok(bound);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn binding(details: Value) -> SecretBinding {
        let catalog = idp::Catalog::shipped().unwrap();
        match details {
            Value::Object(map) => SecretBinding::of(&map, &catalog),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_path_change_on_the_same_origin_keeps_the_binding() {
        let a = binding(json!({ "accessTokenURL": "https://idp.example.com/token" }));
        let b = binding(json!({ "accessTokenURL": "HTTPS://IDP.example.com:443/v2/token?x=1" }));
        assert_eq!(a.hash(), b.hash());
        assert!(a.holds(Some(b.hash())));
    }

    #[test]
    fn another_scheme_host_or_port_moves_the_binding() {
        let base = binding(json!({ "accessTokenURL": "https://idp.example.com/token" }));
        for moved in [
            "http://idp.example.com/token",
            "https://evil.example.com/token",
            "https://idp.example.com:8443/token",
        ] {
            let other = binding(json!({ "accessTokenURL": moved }));
            assert!(!base.holds(Some(other.hash())), "{moved}");
        }
    }

    #[test]
    fn every_bound_key_moves_the_binding() {
        let base = json!({
            "accessTokenURL": "https://a.example/token",
            "refreshTokenURL": "https://a.example/refresh",
            "authorizationTokenURL": "https://a.example/authorize",
            "discoveryURL": "https://a.example/.well-known/openid-configuration",
            "provider": "box",
        });
        let before = binding(base.clone());
        for (key, value) in [
            ("accessTokenURL", "https://b.example/token"),
            ("refreshTokenURL", "https://b.example/refresh"),
            ("authorizationTokenURL", "https://b.example/authorize"),
            ("discoveryURL", "https://a.example/other"),
            ("provider", "google"),
        ] {
            let mut moved = base.clone();
            moved[key] = json!(value);
            assert_ne!(before, binding(moved), "{key}");
            let mut removed = base.clone();
            removed.as_object_mut().unwrap().remove(key);
            assert_ne!(before, binding(removed), "{key} removed");
        }
        let mut other = base.clone();
        other["scope"] = json!("more");
        other["clientId"] = json!("other");
        assert_eq!(before, binding(other), "scope and client id are no IdP");
    }

    #[test]
    fn the_test_url_origin_is_bound_but_receives_no_secret() {
        let token = "https://idp.example.com/token";
        let base = binding(json!({ "accessTokenURL": token }));
        let with = |test: &str| binding(json!({ "accessTokenURL": token, "testURL": test }));
        let api = with("https://api.example.com/me");
        // Unchanged for records without a testURL (their stored hashes stay valid).
        assert_eq!(
            base.hash(),
            binding(json!({ "accessTokenURL": token })).hash()
        );
        assert_ne!(base, api);
        assert_eq!(api.hash(), with("https://api.example.com/v2/me").hash());
        assert_ne!(api.hash(), with("https://evil.example.com/me").hash());
        assert!(!api.allows(&Url::parse("https://api.example.com/me").unwrap()));
    }

    #[test]
    fn a_placeholder_value_that_moves_the_host_moves_the_binding() {
        let at =
            |host: &str| binding(json!({ "accessTokenURL": "https://{host}/token", "host": host }));
        assert_ne!(at("idp.example.com"), at("evil.example.com"));
        assert!(at("idp.example.com").allows(&Url::parse("https://idp.example.com/x").unwrap()));
    }

    #[test]
    fn a_catalog_entry_binds_its_urls_with_the_placeholders_filled() {
        let entra =
            |tenant: &str| binding(json!({ "provider": "microsoft-entra-id", "tenant": tenant }));
        let login =
            Url::parse("https://login.microsoftonline.com/contoso/oauth2/v2.0/token").unwrap();
        assert!(entra("contoso").allows(&login));
        assert!(!entra("contoso").allows(&Url::parse("https://evil.example/token").unwrap()));
        // The details' own URL wins over the entry's.
        let own =
            binding(json!({ "provider": "box", "accessTokenURL": "https://idp.example.com/t" }));
        assert!(own.allows(&Url::parse("https://idp.example.com/t").unwrap()));
        assert!(!own.allows(&Url::parse("https://api.box.com/oauth2/token").unwrap()));
    }

    #[test]
    fn discovered_endpoints_are_allowed_without_moving_the_binding() {
        let mut b = binding(json!({ "discoveryURL": "https://idp.example.com/.well-known/x" }));
        let hash = b.hash().to_owned();
        let token = Url::parse("https://tokens.example.com/token").unwrap();
        assert!(!b.allows(&token));
        b.allow_discovered(&idp::Metadata {
            issuer: None,
            authorization_endpoint: None,
            token_endpoint: token.to_string(),
        });
        assert!(b.allows(&token));
        assert_eq!(b.hash(), hash);
    }

    #[test]
    fn only_requests_to_a_bound_origin_are_allowed() {
        let b = binding(json!({
            "accessTokenURL": "https://idp.example.com/token",
            "authorizationTokenURL": "not a url",
        }));
        assert!(b.allows(&Url::parse("https://idp.example.com/other/path").unwrap()));
        assert!(!b.allows(&Url::parse("https://evil.example.com/token").unwrap()));
        assert!(!b.allows(&Url::parse("http://idp.example.com/token").unwrap()));
        assert!(!b.holds(None), "no stored binding ties nothing");
    }
}
