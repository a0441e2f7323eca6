//! Who is calling: the tenant (Space guid + account) the server established from the
//! request's JWT and `SPACE_GUID` header (SPEC §2).
//!
//! A `Tenant` is only built by the server after authentication, and every service
//! function that touches records takes one, so no query can forget the tenant filter.

/// The verified caller of one GraphQL request.
#[derive(Clone, Debug)]
pub struct Caller {
    tenant: Tenant,
    scopes: Vec<String>,
}

/// The isolation boundary of SPEC §2: records of one tenant are invisible to any other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    space_guid: SpaceGuid,
    account_id: AccountId,
}

impl Tenant {
    /// The Space guid from the `SPACE_GUID` header.
    pub fn space_guid(&self) -> &str {
        self.space_guid.as_str()
    }

    /// The account from the JWT's account claim.
    pub fn account_id(&self) -> &str {
        self.account_id.as_str()
    }
}

/// A valid `SPACE_GUID` (SPEC §2): 1 to 128 of `A-Z a-z 0-9 _ -`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpaceGuid(String);

/// Why a `SPACE_GUID` header is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceGuidError {
    /// No header, or an empty one (`MISSING_SPACE_ID`).
    Missing,
    /// Too long or other characters (`INVALID_SPACE_ID`).
    Invalid,
}

impl SpaceGuid {
    /// The longest Space guid accepted.
    pub const MAX_LEN: usize = 128;

    /// Parses the raw header value.
    pub fn parse(raw: &[u8]) -> Result<Self, SpaceGuidError> {
        if raw.is_empty() {
            return Err(SpaceGuidError::Missing);
        }
        let valid = raw.len() <= Self::MAX_LEN
            && raw
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
        match std::str::from_utf8(raw) {
            Ok(text) if valid => Ok(Self(text.to_owned())),
            _ => Err(SpaceGuidError::Invalid),
        }
    }

    /// The guid.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid account id from the JWT's account claim: 1 to 255 characters (the longest
/// key string a record stores, SPEC §3), none a control character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountId(String);

impl AccountId {
    /// The longest account id accepted, in characters.
    pub const MAX_LEN: usize = 255;

    /// The account id in `claim`, or none when it is empty, too long or holds control
    /// characters.
    pub fn parse(claim: String) -> Option<Self> {
        let valid = !claim.is_empty()
            && claim.chars().count() <= Self::MAX_LEN
            && !claim.chars().any(char::is_control);
        valid.then_some(Self(claim))
    }

    /// The account id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Caller {
    /// Built by the HTTP layer once the JWT is verified and `SPACE_GUID` is parsed.
    pub fn authenticated(
        space_guid: SpaceGuid,
        account_id: AccountId,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            tenant: Tenant {
                space_guid,
                account_id,
            },
            scopes,
        }
    }

    /// The caller's tenant.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// True when the JWT's `scope` claim grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The authenticated caller of the request being resolved.
pub fn caller<'a>(ctx: &async_graphql::Context<'a>) -> crate::error::ApiResult<&'a Caller> {
    ctx.data_opt::<Caller>()
        .ok_or(crate::error::ApiError::Unauthorized(
            "authentication required",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_guid_is_1_to_128_safe_characters() {
        assert_eq!(SpaceGuid::parse(b""), Err(SpaceGuidError::Missing));
        assert!(SpaceGuid::parse(&[b'a'; 128]).is_ok());
        assert_eq!(SpaceGuid::parse(&[b'a'; 129]), Err(SpaceGuidError::Invalid));
        assert_eq!(SpaceGuid::parse(b"a b"), Err(SpaceGuidError::Invalid));
        assert_eq!(
            SpaceGuid::parse(b"Space_1-x").unwrap().as_str(),
            "Space_1-x"
        );
    }

    #[test]
    fn an_account_id_is_1_to_255_characters_without_controls() {
        assert!(AccountId::parse(String::new()).is_none());
        assert!(AccountId::parse("é".repeat(255)).is_some());
        assert!(AccountId::parse("a".repeat(256)).is_none());
        assert!(AccountId::parse("a\nb".into()).is_none());
    }
}
