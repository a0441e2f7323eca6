//! The one list of error codes (SPEC §7 and §10, plus the Apollo APQ protocol's two): what
//! every layer answers in `extensions.code` and what metrics use as outcome labels.
//! No other copy of a code's text exists in the service.

/// An error code answered in `extensions.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Unauthorized,
    TokenExpired,
    MissingSpaceId,
    InvalidSpaceId,
    SpaceGuidMismatch,
    IpackInstanceIdInvalid,
    InvalidOauthConnectorDetails,
    InvalidInput,
    NotFound,
    GrantTypeNotSupported,
    ClientSecretRequired,
    IdpTokenRequestFailed,
    ReauthorizationRequired,
    TestRequestFailed,
    RateLimited,
    DatabaseUnavailable,
    /// A tenant's record quota is reached (SPEC §13).
    QuotaExceeded,
    GenericSystemError,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
}

impl Code {
    /// Every code, in SPEC §7 order.
    pub const ALL: [Code; 20] = [
        Self::Unauthorized,
        Self::TokenExpired,
        Self::MissingSpaceId,
        Self::InvalidSpaceId,
        Self::SpaceGuidMismatch,
        Self::IpackInstanceIdInvalid,
        Self::InvalidOauthConnectorDetails,
        Self::InvalidInput,
        Self::NotFound,
        Self::GrantTypeNotSupported,
        Self::ClientSecretRequired,
        Self::IdpTokenRequestFailed,
        Self::ReauthorizationRequired,
        Self::TestRequestFailed,
        Self::RateLimited,
        Self::DatabaseUnavailable,
        Self::QuotaExceeded,
        Self::GenericSystemError,
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotSupported,
    ];

    /// The code as clients see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "UNAUTHORIZED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::MissingSpaceId => "MISSING_SPACE_ID",
            Self::InvalidSpaceId => "INVALID_SPACE_ID",
            Self::SpaceGuidMismatch => "SPACE_GUID_MISMATCH",
            Self::IpackInstanceIdInvalid => "IPACK_INSTANCE_ID_INVALID",
            Self::InvalidOauthConnectorDetails => "INVALID_OAUTH_CONNECTOR_DETAILS",
            Self::InvalidInput => "INVALID_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::GrantTypeNotSupported => "GRANT_TYPE_NOT_SUPPORTED",
            Self::ClientSecretRequired => "CLIENT_SECRET_REQUIRED",
            Self::IdpTokenRequestFailed => "IDP_TOKEN_REQUEST_FAILED",
            Self::ReauthorizationRequired => "REAUTHORIZATION_REQUIRED",
            Self::TestRequestFailed => "TEST_REQUEST_FAILED",
            Self::RateLimited => "RATE_LIMITED",
            Self::DatabaseUnavailable => "DATABASE_UNAVAILABLE",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::GenericSystemError => "GENERIC_SYSTEM_ERROR",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
        }
    }

    /// The code whose text is `text`, if it is one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_parses_back_and_the_texts_are_distinct() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        let mut texts: Vec<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), Code::ALL.len());
        assert_eq!(Code::parse("whatever"), None);
    }
}
