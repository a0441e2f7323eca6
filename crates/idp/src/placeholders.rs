//! `{name}` placeholders in endpoint URLs (SPEC §11), e.g. Microsoft's `{tenant}`:
//! which a URL template names, and filling them from same-named details values.
//! A value may only hold letters, digits, `.`, `-` and `_`, so it can never move a
//! URL to another host or path (`evil.example#`, `../x`).

use serde_json::{Map, Value};

use crate::settings::DetailsError;

/// The placeholder names in `template`, in order of first appearance.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, name) in spans(template) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// `template` with each `{name}` replaced by the details' string `name`; `url_key`
/// (e.g. `accessTokenURL`) names the URL in errors.
pub fn fill(
    template: &str,
    details: &Map<String, Value>,
    url_key: &str,
) -> Result<String, DetailsError> {
    fill_with(template, url_key, |name| {
        details
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

/// `template` with every placeholder replaced by `x`: to check that a template is a
/// URL before any value is known.
pub fn fill_sample(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = 0;
    for (range, _) in spans(template) {
        out.push_str(&template[rest..range.start]);
        out.push('x');
        rest = range.end;
    }
    out.push_str(&template[rest..]);
    out
}

fn fill_with<'v>(
    template: &str,
    url_key: &str,
    value_of: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, DetailsError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = 0;
    for (range, name) in spans(template) {
        let value = value_of(name).ok_or_else(|| DetailsError::MissingPlaceholder {
            name: name.to_owned(),
            url_key: url_key.to_owned(),
        })?;
        if !is_safe_value(value) {
            return Err(DetailsError::InvalidPlaceholder {
                name: name.to_owned(),
            });
        }
        out.push_str(&template[rest..range.start]);
        out.push_str(value);
        rest = range.end;
    }
    out.push_str(&template[rest..]);
    Ok(out)
}

/// `{name}` spans with a name of letters, digits and `_`; other braces are left alone.
fn spans(template: &str) -> impl Iterator<Item = (std::ops::Range<usize>, &str)> {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(open) = template[from..].find('{').map(|i| from + i) {
            let close = template[open..].find('}').map(|i| open + i)?;
            let name = &template[open + 1..close];
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                from = close + 1;
                return Some((open..close + 1, name));
            }
            from = open + 1;
        }
        None
    })
}

fn is_safe_value(value: &str) -> bool {
    value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !value.split('.').any(|part| part.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn details(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    const MS: &str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token";

    #[test]
    fn names_are_found_once_each() {
        assert_eq!(placeholders(MS), ["tenant"]);
        assert_eq!(
            placeholders("https://{sub}.example/{tenant}/{sub}/{not a name}/{}"),
            ["sub", "tenant"]
        );
        assert!(placeholders("https://idp.example/token").is_empty());
    }

    #[test]
    fn a_tenant_is_filled_from_the_details() {
        let d = details(json!({"tenant": "contoso.onmicrosoft.com"}));
        assert_eq!(
            fill(MS, &d, "accessTokenURL").unwrap(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn a_missing_value_is_named_in_the_error() {
        for d in [json!({}), json!({"tenant": ""}), json!({"tenant": 5})] {
            let err = fill(MS, &details(d), "accessTokenURL").unwrap_err();
            assert_eq!(
                err,
                DetailsError::MissingPlaceholder {
                    name: "tenant".into(),
                    url_key: "accessTokenURL".into()
                }
            );
            assert!(err.to_string().contains("tenant"));
        }
    }

    #[test]
    fn a_value_that_could_move_the_url_is_refused() {
        let template = "https://{subdomain}.my.salesforce.com/services/oauth2/token";
        for bad in [
            "evil.example#",
            "evil.example/x",
            "a@b",
            "..",
            "a..b",
            ".",
            "x?y",
            "a%2fb",
        ] {
            let err = fill(
                template,
                &details(json!({"subdomain": bad})),
                "accessTokenURL",
            );
            assert!(
                matches!(err, Err(DetailsError::InvalidPlaceholder { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn sample_filling_makes_a_parsable_url() {
        assert_eq!(
            fill_sample("https://{sub}.example/{t}/x{"),
            "https://x.example/x/x{"
        );
    }
}
