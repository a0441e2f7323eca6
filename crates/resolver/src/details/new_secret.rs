//! The "no new secret" rule (SPEC §5): a save or an encrypt whose `clientSecret` is the
//! placeholder, `dummyValue` or empty keeps what the vault holds — while the record
//! keeps its identity provider ([`super::binding`], SPEC §10). Decided here, in Rust
//! for the input and in SQL for the save's upsert.

use entity::connector_details::Column;
use sea_orm::sea_query::{Expr, SimpleExpr};

use super::{PLACEHOLDER, binding};
use crate::error::{ApiError, ApiResult};

/// The longest client secret accepted, in characters.
pub const MAX_CLIENT_SECRET_LEN: usize = 8192;

/// Client secrets that mean "no new secret" (SPEC §5).
const NO_NEW_SECRET: [&str; 3] = [PLACEHOLDER, "dummyValue", ""];

/// A real client secret a client sent: not one of the "no new secret" values, at most
/// [`MAX_CLIENT_SECRET_LEN`] characters.
#[derive(Clone, Copy)]
pub struct NewClientSecret<'a>(&'a str);

impl<'a> NewClientSecret<'a> {
    /// The real secret in a client's `clientSecret`, or none for the "no new secret"
    /// values.
    pub fn parse(secret: &'a str) -> ApiResult<Option<Self>> {
        if NO_NEW_SECRET.contains(&secret) {
            return Ok(None);
        }
        if secret.chars().count() > MAX_CLIENT_SECRET_LEN {
            return Err(ApiError::invalid_input(
                "clientSecret",
                format!("clientSecret must be at most {MAX_CLIENT_SECRET_LEN} characters"),
            ));
        }
        Ok(Some(Self(secret)))
    }

    /// The secret, for sealing.
    pub fn expose(self) -> &'a str {
        self.0
    }
}

/// The upsert's value for `sealed_client_secret`: the new sealed secret when the save
/// brought one (the row's column is then set), else what the vault already holds if
/// the record keeps its identity provider, else none (SPEC §10).
pub fn sealed_client_secret_on_conflict() -> (Column, SimpleExpr) {
    (
        Column::SealedClientSecret,
        Expr::cust(format!(
            "CASE WHEN excluded.sealed_client_secret IS NOT NULL \
             THEN excluded.sealed_client_secret \
             WHEN {} THEN connector_details.sealed_client_secret \
             ELSE NULL END",
            binding::KEPT_ON_CONFLICT
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholders_and_empty_mean_no_new_secret() {
        for keep in [PLACEHOLDER, "dummyValue", ""] {
            assert!(NewClientSecret::parse(keep).unwrap().is_none(), "{keep}");
        }
        let real = NewClientSecret::parse("s3cret").unwrap().unwrap();
        assert_eq!(real.expose(), "s3cret");
        assert!(NewClientSecret::parse(&"x".repeat(MAX_CLIENT_SECRET_LEN + 1)).is_err());
    }
}
