//! Which grant a record's connection uses, for Test Connection (SPEC §12): the held
//! token's grant, else the details' `grantType`.

use crate::tokens::types::GrantType;

/// The grant named by a details `grantType`: the GraphQL names (`CLIENT_CREDENTIALS`)
/// or the OAuth wire names (`client_credentials`, the RFC 7523 URN), any case.
pub fn from_details(value: &str) -> Option<GrantType> {
    let value = value.trim();
    if value.eq_ignore_ascii_case(crate::tokens::jwt_bearer::GRANT_TYPE) {
        return Some(GrantType::JwtBearer);
    }
    let upper = value.to_ascii_uppercase().replace('-', "_");
    GrantType::parse(&upper)
}

/// True when `grant` sends the client secret (all but the JWT bearer grant, whose
/// assertion authenticates the client).
pub fn needs_secret(grant: GrantType) -> bool {
    grant != GrantType::JwtBearer
}

/// True when the server can obtain a new token for `grant` without a user or a
/// password: client credentials, and JWT bearer with a signing key in the details.
pub fn non_interactive(grant: GrantType) -> bool {
    matches!(grant, GrantType::ClientCredentials | GrantType::JwtBearer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_grant_types_are_read_in_graphql_and_oauth_spellings() {
        for (text, grant) in [
            ("CLIENT_CREDENTIALS", GrantType::ClientCredentials),
            ("client_credentials", GrantType::ClientCredentials),
            (" authorization_code ", GrantType::AuthorizationCode),
            ("password", GrantType::Password),
            ("JWT_BEARER", GrantType::JwtBearer),
            ("jwt-bearer", GrantType::JwtBearer),
            (
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                GrantType::JwtBearer,
            ),
        ] {
            assert_eq!(from_details(text), Some(grant), "{text}");
        }
        for text in ["", "implicit", "refresh_token"] {
            assert_eq!(from_details(text), None, "{text}");
        }
    }
}
