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
    space_guid: String,
    account_id: String,
}

impl Tenant {
    /// The Space guid from the (already validated) `SPACE_GUID` header.
    pub fn space_guid(&self) -> &str {
        &self.space_guid
    }

    /// The account from the JWT's account claim.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl Caller {
    /// Built by the HTTP layer once the JWT is verified and `SPACE_GUID` is valid.
    pub fn authenticated(space_guid: String, account_id: String, scopes: Vec<String>) -> Self {
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

/// The request id the server assigned, so errors and logs can be matched.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The authenticated caller of the request being resolved.
pub fn caller<'a>(ctx: &async_graphql::Context<'a>) -> crate::error::ApiResult<&'a Caller> {
    ctx.data_opt::<Caller>()
        .ok_or(crate::error::ApiError::Unauthorized(
            "authentication required",
        ))
}
