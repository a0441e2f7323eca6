//! Which member names hold secrets (SPEC §4): the one rule every IdP-facing value
//! filter applies, so a secret never becomes a provider value or a logged field.

/// Secret names, compared case-insensitively and ignoring `_`/`-`, so
/// `client_secret`, `clientSecret` and `Client-Secret` are all caught.
const SECRET_NAMES: [&str; 6] = [
    "clientsecret",
    "password",
    "refreshtoken",
    "accesstoken",
    "assertion",
    "privatekey",
];

/// Returns true when `key` names a secret (SPEC §4).
pub fn is_secret_name(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_NAMES.contains(&normalized.as_str())
}

#[cfg(test)]
mod tests {
    use super::is_secret_name;

    #[test]
    fn every_spelling_of_a_secret_name_is_caught() {
        for name in [
            "client_secret",
            "clientSecret",
            "Client-Secret",
            "PASSWORD",
            "refresh_token",
            "access_token",
            "assertion",
            "private_key",
            "privateKey",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn ordinary_names_are_not_secret() {
        for name in [
            "instance_url",
            "realmId",
            "secret_hint",
            "tokens",
            "id_token",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
