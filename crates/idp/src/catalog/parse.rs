//! Reading a catalog file: TOML `[[provider]]` tables, unknown keys refused, every
//! error with the file's line (and the entry's name when known), so a bad
//! `PROVIDERS_FILE` stops the start with a message an operator can act on.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{GrantType, Provider};
use crate::placeholders::{fill_sample, placeholders};
use crate::secret_names::is_secret_name;
use crate::settings::{AuthScheme, MAX_LIFETIME_SECONDS, TokenRequestFormat, is_http_url};

/// A catalog file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogError {
    origin: String,
    line: Option<usize>,
    entry: Option<String>,
    reason: String,
}

impl CatalogError {
    pub(super) fn unreadable(origin: &str, err: &std::io::Error) -> Self {
        Self {
            origin: origin.to_owned(),
            line: None,
            entry: None,
            reason: format!("cannot be read: {err}"),
        }
    }

    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The `name` of the entry with the problem, when known.
    pub fn entry(&self) -> Option<&str> {
        self.entry.as_deref()
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        if let Some(entry) = &self.entry {
            write!(f, " (provider {entry:?})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for CatalogError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    provider: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    name: Spanned<String>,
    display_name: String,
    grant_types: Spanned<Vec<GrantType>>,
    #[serde(rename = "authorizationTokenURL")]
    authorization_token_url: Spanned<String>,
    #[serde(rename = "accessTokenURL")]
    access_token_url: Spanned<String>,
    #[serde(rename = "refreshTokenURL", default)]
    refresh_token_url: Option<Spanned<String>>,
    #[serde(default)]
    scope: Option<String>,
    refresh_auth_scheme: AuthScheme,
    #[serde(default)]
    pkce: Option<bool>,
    #[serde(default)]
    token_request_format: Option<TokenRequestFormat>,
    #[serde(default)]
    token_lifetime_seconds: Option<Spanned<u64>>,
    #[serde(default)]
    auth_params: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(rename = "testURL", default)]
    test_url: Option<Spanned<String>>,
}

/// The same file read loosely, only to name the entry a TOML error falls in.
#[derive(Deserialize)]
struct Loose {
    #[serde(default)]
    provider: Vec<Spanned<toml::Table>>,
}

pub(super) fn parse(text: &str, origin: &str) -> Result<Vec<Provider>, CatalogError> {
    let error = |span: Option<Range<usize>>, entry: Option<String>, reason: String| CatalogError {
        origin: origin.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        entry,
        reason,
    };
    let file: File = toml::from_str(text).map_err(|err| {
        let entry = err.span().and_then(|span| entry_at(text, span.start));
        error(err.span(), entry, err.message().trim().to_owned())
    })?;
    let mut providers: Vec<Provider> = Vec::new();
    for spanned in file.provider {
        let entry_span = spanned.span();
        let entry = spanned.into_inner();
        let name = entry.name.get_ref().clone();
        let fail =
            |span: Range<usize>, reason: String| error(Some(span), Some(name.clone()), reason);
        if !is_valid_name(&name) {
            return Err(fail(
                entry.name.span(),
                "name must be 1 to 64 letters, digits, '.', '-' or '_'".into(),
            ));
        }
        if providers.iter().any(|p| p.name == name) {
            return Err(fail(
                entry.name.span(),
                "a provider of this name is already in this file".into(),
            ));
        }
        if entry.display_name.trim().is_empty() {
            return Err(fail(entry_span, "displayName must not be empty".into()));
        }
        if entry.grant_types.get_ref().is_empty() {
            return Err(fail(
                entry.grant_types.span(),
                "grantTypes must name at least one grant type".into(),
            ));
        }
        let urls = [
            (
                "authorizationTokenURL",
                Some(&entry.authorization_token_url),
            ),
            ("accessTokenURL", Some(&entry.access_token_url)),
            ("refreshTokenURL", entry.refresh_token_url.as_ref()),
            ("testURL", entry.test_url.as_ref()),
        ];
        let mut names: Vec<String> = Vec::new();
        for (key, url) in urls {
            let Some(url) = url else { continue };
            if !is_http_url(&fill_sample(url.get_ref())) {
                return Err(fail(
                    url.span(),
                    format!("{key} is not a valid http or https URL"),
                ));
            }
            for placeholder in placeholders(url.get_ref()) {
                if !names.contains(&placeholder) {
                    names.push(placeholder);
                }
            }
        }
        if let Some(lifetime) = &entry.token_lifetime_seconds
            && !(1..=MAX_LIFETIME_SECONDS).contains(lifetime.get_ref())
        {
            return Err(fail(
                lifetime.span(),
                format!("tokenLifetimeSeconds must be from 1 to {MAX_LIFETIME_SECONDS}"),
            ));
        }
        if let Some(params) = &entry.auth_params
            && let Some(key) = params.get_ref().keys().find(|k| is_secret_name(k))
        {
            return Err(fail(
                params.span(),
                format!("authParams must not hold the secret-named key {key:?}"),
            ));
        }
        providers.push(Provider {
            name,
            display_name: entry.display_name,
            grant_types: entry.grant_types.into_inner(),
            authorization_token_url: entry.authorization_token_url.into_inner(),
            access_token_url: entry.access_token_url.into_inner(),
            refresh_token_url: entry.refresh_token_url.map(Spanned::into_inner),
            scope: entry.scope,
            refresh_auth_scheme: entry.refresh_auth_scheme,
            pkce: entry.pkce,
            token_request_format: entry.token_request_format,
            token_lifetime_seconds: entry.token_lifetime_seconds.map(Spanned::into_inner),
            auth_params: entry
                .auth_params
                .map(Spanned::into_inner)
                .unwrap_or_default(),
            test_url: entry.test_url.map(Spanned::into_inner),
            placeholders: names,
        });
    }
    Ok(providers)
}

/// The name of the `[[provider]]` entry that byte `offset` falls in (the last header
/// before it: toml spans an array-of-tables element by its header only), if the file
/// is well-formed enough to tell.
fn entry_at(text: &str, offset: usize) -> Option<String> {
    let loose: Loose = toml::from_str(text).ok()?;
    loose
        .provider
        .iter()
        .rfind(|table| table.span().start <= offset)
        .and_then(|table| table.get_ref().get("name")?.as_str().map(str::to_owned))
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn is_valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}
