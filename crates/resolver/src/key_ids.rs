//! Which key ids the stored ciphertexts name (SPEC §5), read without reading the rows
//! (issue 20): every sealed column has a generated column `<column>_key_id` (migration
//! m000060) indexed where not null. The start-up check lists the distinct key ids with a
//! loose index scan (one index probe per id), and `rotate-keys` finds stale rows and
//! counts what is left through the same indexes.

use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Func, Query, SelectStatement};
use sea_orm::{Condition, ConnectionTrait};

use crate::error::ApiResult;
use crate::vault::Vault;

/// How many values of one sealed column are under one key id.
#[derive(Debug, PartialEq, Eq)]
pub struct KeyIdCount {
    /// `table.column` of the sealed values.
    pub column: String,
    /// The key id their ciphertexts name (`""` for a value that names none).
    pub key_id: String,
    /// How many.
    pub count: u64,
}

/// One sealed column and its generated key-id column `<column>_key_id` (migration
/// m000060): the key id each ciphertext names, indexed where not null, so the key ids in
/// use are read from the index, never from the rows.
#[derive(Clone, Copy, Debug)]
pub struct Sealed {
    /// The table.
    pub table: &'static str,
    /// The sealed column.
    pub column: &'static str,
}

/// Every sealed column (SPEC §5).
pub const SEALED: [Sealed; 6] = [
    Sealed::of("connector_details", "sealed_client_secret"),
    Sealed::of("connector_details", "sealed_details_secrets"),
    Sealed::of("oauth_tokens", "sealed_access_token"),
    Sealed::of("oauth_tokens", "sealed_refresh_token"),
    Sealed::of("oauth_tokens", "sealed_provider_values"),
    Sealed::of("oauth_states", "sealed_pkce_verifier"),
];

impl Sealed {
    const fn of(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }

    /// The generated key-id column.
    fn key_id(self) -> Alias {
        Alias::new(format!("{}_key_id", self.column))
    }

    /// The smallest key id in use greater than `after` (the smallest of all without
    /// one): one probe of the column's key-id index. Repeated with the id found, it
    /// lists the distinct key ids in as many probes as there are ids (a loose index
    /// scan), whatever the row count. Key ids compare byte by byte (`COLLATE "C"` on
    /// PostgreSQL, SQLite's binary collation): `K1` and `k1` are different ids.
    pub fn next_key_id(self, after: Option<&str>) -> SelectStatement {
        let key_id = Expr::col(self.key_id());
        Query::select()
            .expr(Func::min(key_id.clone()))
            .from(Alias::new(self.table))
            .and_where(match after {
                Some(after) => key_id.gt(after),
                None => key_id.is_not_null(),
            })
            .to_owned()
    }

    /// How many values are under `key_id`: a range of the key-id index.
    pub fn count_under(self, key_id: &str) -> SelectStatement {
        Query::select()
            .expr(Func::count(Expr::col(self.key_id())))
            .from(Alias::new(self.table))
            .and_where(Expr::col(self.key_id()).eq(key_id))
            .to_owned()
    }

    /// The column holds a value under another key than `active`: two ranges of the
    /// key-id index (`<` and `>`, exact, where `<>` would make the planner scan).
    pub fn stale(self, active: &str) -> Condition {
        Condition::any()
            .add(Expr::col(self.key_id()).lt(active))
            .add(Expr::col(self.key_id()).gt(active))
    }

    /// The distinct key ids in use, in byte order.
    pub async fn key_ids(self, db: &impl ConnectionTrait) -> ApiResult<Vec<String>> {
        let mut ids: Vec<String> = Vec::new();
        loop {
            let statement = self.next_key_id(ids.last().map(String::as_str));
            let row = db.query_one(&statement).await?;
            let next: Option<String> = match row {
                Some(row) => row.try_get_by_index(0)?,
                None => None,
            };
            match next {
                Some(id) => ids.push(id),
                None => return Ok(ids),
            }
        }
    }

    /// How many values are under `key_id`.
    async fn count(self, db: &impl ConnectionTrait, key_id: &str) -> ApiResult<u64> {
        let statement = self.count_under(key_id);
        let row = db.query_one(&statement).await?;
        let count: i64 = match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// Key ids named by stored ciphertexts but not loaded, so the server can refuse to
/// start. Reads only the key-id indexes: a few probes per sealed column, however many
/// records there are (issue 20).
pub async fn unknown_key_ids(db: &impl ConnectionTrait, vault: &Vault) -> ApiResult<Vec<String>> {
    let mut unknown: Vec<String> = Vec::new();
    for sealed in SEALED {
        for id in sealed.key_ids(db).await? {
            if !vault.key_ids().any(|known| known == id) && !unknown.contains(&id) {
                unknown.push(id);
            }
        }
    }
    Ok(unknown)
}

/// The values under another key than `active`, by column and key id.
pub async fn left_under_other_keys(
    db: &impl ConnectionTrait,
    active: &str,
) -> ApiResult<Vec<KeyIdCount>> {
    let mut left = Vec::new();
    for sealed in SEALED {
        for key_id in sealed.key_ids(db).await? {
            if key_id == active {
                continue;
            }
            let count = sealed.count(db, &key_id).await?;
            left.push(KeyIdCount {
                column: format!("{}.{}", sealed.table, sealed.column),
                key_id,
                count,
            });
        }
    }
    Ok(left)
}

/// The rows of `table` with a value under another key than `active`.
pub fn stale_in(table: &str, active: &str) -> Condition {
    SEALED
        .iter()
        .filter(|sealed| sealed.table == table)
        .fold(Condition::any(), |any, sealed| {
            any.add(sealed.stale(active))
        })
}
