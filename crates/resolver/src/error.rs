//! The one error type of the GraphQL layer and its mapping to the SPEC §7 codes.
//!
//! Client errors carry a fixed code and a message written here; internal errors are
//! logged once, where they are turned into a GraphQL error, and the client only sees
//! `GENERIC_SYSTEM_ERROR` (the server adds the request id to every error it answers).

use async_graphql::ErrorExtensions;

use crate::code::Code;

/// Everything a resolver can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidInput {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    IPackInstanceIdInvalid(String),
    #[error("catalogGuid must equal the SPACE_GUID header")]
    SpaceGuidMismatch,
    #[error("oauthConnectorDetails is invalid: {0}")]
    InvalidConnectorDetails(String),
    #[error("no OAuth connector details exist for this key")]
    NotFound,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    GrantTypeNotSupported(String),
    #[error("no client secret is stored for this connector; encrypt one first")]
    ClientSecretRequired,
    #[error("the identity provider refused the token request: {message}")]
    IdpTokenRequestFailed {
        idp_error: Option<String>,
        message: String,
    },
    /// A token request failed; the IdP's answer classified (SPEC §10). The message
    /// is the IdP's cleaned description (its `error` code goes to `idpError`).
    #[error("the identity provider refused the token request: {}", idp_message(.0))]
    Idp(idp::IdpFailure),
    /// Only a new authorization can renew the connection's token (SPEC §10).
    #[error("{message}")]
    ReauthorizationRequired {
        idp_error: Option<String>,
        message: String,
    },
    #[error("this tenant already holds {0} records, the most allowed; delete some first")]
    QuotaExceeded(u64),
    #[error("the database is unavailable; try again shortly")]
    DatabaseUnavailable(#[source] sea_orm::DbErr),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// The SPEC §7 code answered in `extensions.code`.
    pub fn code(&self) -> Code {
        match self {
            Self::InvalidInput { .. } => Code::InvalidInput,
            Self::IPackInstanceIdInvalid(_) => Code::IpackInstanceIdInvalid,
            Self::SpaceGuidMismatch => Code::SpaceGuidMismatch,
            Self::InvalidConnectorDetails(_) => Code::InvalidOauthConnectorDetails,
            Self::NotFound => Code::NotFound,
            Self::Unauthorized(_) => Code::Unauthorized,
            Self::GrantTypeNotSupported(_) => Code::GrantTypeNotSupported,
            Self::ClientSecretRequired => Code::ClientSecretRequired,
            Self::IdpTokenRequestFailed { .. } | Self::Idp(_) => Code::IdpTokenRequestFailed,
            Self::ReauthorizationRequired { .. } => Code::ReauthorizationRequired,
            Self::QuotaExceeded(_) => Code::QuotaExceeded,
            Self::DatabaseUnavailable(_) => Code::DatabaseUnavailable,
            Self::Internal(_) => Code::GenericSystemError,
        }
    }

    /// The IdP's `error` code behind this error, when there is one (`extensions.idpError`).
    pub fn idp_error(&self) -> Option<&str> {
        match self {
            Self::IdpTokenRequestFailed { idp_error, .. }
            | Self::ReauthorizationRequired { idp_error, .. } => idp_error.as_deref(),
            Self::Idp(failure) => failure.idp_error(),
            _ => None,
        }
    }

    /// An `INVALID_INPUT` error naming the offending input field.
    pub fn invalid_input(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            message: message.into(),
        }
    }

    /// Wraps an unexpected failure; its text reaches the log, never a client.
    pub fn internal(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(source))
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        if is_connection_failure(&err) {
            Self::DatabaseUnavailable(err)
        } else {
            Self::internal(err)
        }
    }
}

/// True when the database could not be reached at all, as opposed to a failed statement.
pub fn is_connection_failure(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            let text = e.to_string();
            matches!(
                e.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
                    | sea_orm::sqlx::Error::WorkerCrashed
            ) || text.contains("terminating connection")
        }
        _ => false,
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        let code = err.code();
        match &err {
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "request failed with an internal error");
            }
            ApiError::DatabaseUnavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
            }
            _ => {}
        }
        async_graphql::Error::new(err.to_string()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            match &err {
                ApiError::InvalidInput { field, .. } => ext.set("field", *field),
                ApiError::IPackInstanceIdInvalid(_) => {
                    ext.set("field", "integrationPackInstanceId")
                }
                _ => {}
            }
            if let Some(idp) = err.idp_error() {
                ext.set("idpError", idp);
            }
        })
    }
}

/// The IdP's description of a failure, else its code (never its raw body).
fn idp_message(failure: &idp::IdpFailure) -> String {
    failure
        .description()
        .map_or_else(|| failure.to_string(), str::to_owned)
}

/// The result type of resolver-facing services.
pub type ApiResult<T> = Result<T, ApiError>;
