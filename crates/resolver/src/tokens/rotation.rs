//! Key rotation (SPEC §5) for the token tables: held access and refresh tokens and
//! pending PKCE verifiers, each sealed under its record's key. `key_rotation` calls this
//! for the start-up check and for `spaces-oauth rotate-keys`.

use entity::connector_details::{Entity as Records, Model as Record};
use entity::{oauth_state, oauth_token};
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::Expr,
};

use crate::error::ApiResult;
use crate::key_rotation::{RotationReport, not_under_key, reseal, unknown_in};
use crate::vault::{Slot, Vault};

/// Adds key ids used by token ciphertexts but not loaded to `unknown`.
pub async fn unknown_key_ids(
    db: &impl ConnectionTrait,
    known: &mut Vec<String>,
    unknown: &mut Vec<String>,
) -> ApiResult<()> {
    unknown_in::<oauth_token::Entity>(db, oauth_token::Column::SealedAccessToken, known, unknown)
        .await?;
    unknown_in::<oauth_token::Entity>(db, oauth_token::Column::SealedRefreshToken, known, unknown)
        .await?;
    unknown_in::<oauth_state::Entity>(db, oauth_state::Column::SealedPkceVerifier, known, unknown)
        .await
}

/// Re-encrypts token ciphertexts not under the active key, `batch_size` rows at a time;
/// each update applies only if the row still holds what was read.
pub async fn rotate(
    db: &impl ConnectionTrait,
    vault: &Vault,
    batch_size: u64,
    report: &mut RotationReport,
) -> ApiResult<()> {
    let active = vault.active_key_id();
    loop {
        let tokens = oauth_token::Entity::find()
            .filter(
                Condition::any()
                    .add(not_under_key(
                        oauth_token::Column::SealedAccessToken,
                        active,
                    ))
                    .add(
                        Condition::all()
                            .add(oauth_token::Column::SealedRefreshToken.is_not_null())
                            .add(not_under_key(
                                oauth_token::Column::SealedRefreshToken,
                                active,
                            )),
                    ),
            )
            .limit(batch_size)
            .all(db)
            .await?;
        if tokens.is_empty() {
            break;
        }
        let mut progressed = false;
        for token in tokens {
            let Some(record) = record(db, token.connector_id).await? else {
                continue;
            };
            let access = reseal(
                vault,
                &record,
                Slot::AccessToken,
                &token.sealed_access_token,
            )?;
            let refresh = token
                .sealed_refresh_token
                .as_deref()
                .map(|s| reseal(vault, &record, Slot::RefreshToken, s))
                .transpose()?;
            let result = oauth_token::Entity::update_many()
                .col_expr(oauth_token::Column::SealedAccessToken, Expr::value(access))
                .col_expr(
                    oauth_token::Column::SealedRefreshToken,
                    Expr::value(refresh),
                )
                .filter(oauth_token::Column::ConnectorId.eq(token.connector_id))
                .filter(
                    oauth_token::Column::SealedAccessToken.eq(token.sealed_access_token.as_str()),
                )
                .filter(unchanged(
                    oauth_token::Column::SealedRefreshToken,
                    &token.sealed_refresh_token,
                ))
                .exec(db)
                .await?;
            if result.rows_affected == 1 {
                report.records_rotated += 1;
                progressed = true;
            } else {
                report.records_skipped += 1;
            }
        }
        if !progressed {
            break;
        }
    }
    rotate_states(db, vault, batch_size, report).await
}

async fn rotate_states(
    db: &impl ConnectionTrait,
    vault: &Vault,
    batch_size: u64,
    report: &mut RotationReport,
) -> ApiResult<()> {
    let active = vault.active_key_id();
    loop {
        let states = oauth_state::Entity::find()
            .filter(not_under_key(
                oauth_state::Column::SealedPkceVerifier,
                active,
            ))
            .limit(batch_size)
            .all(db)
            .await?;
        if states.is_empty() {
            return Ok(());
        }
        let mut progressed = false;
        for state in states {
            let Some(record) = record(db, state.connector_id).await? else {
                continue;
            };
            let sealed = reseal(
                vault,
                &record,
                Slot::PkceVerifier,
                &state.sealed_pkce_verifier,
            )?;
            let result = oauth_state::Entity::update_many()
                .col_expr(oauth_state::Column::SealedPkceVerifier, Expr::value(sealed))
                .filter(oauth_state::Column::StateHash.eq(state.state_hash.as_str()))
                .filter(
                    oauth_state::Column::SealedPkceVerifier.eq(state.sealed_pkce_verifier.as_str()),
                )
                .exec(db)
                .await?;
            if result.rows_affected == 1 {
                report.records_rotated += 1;
                progressed = true;
            } else {
                report.records_skipped += 1;
            }
        }
        if !progressed {
            return Ok(());
        }
    }
}

async fn record(db: &impl ConnectionTrait, id: uuid::Uuid) -> ApiResult<Option<Record>> {
    Ok(Records::find_by_id(id).one(db).await?)
}

fn unchanged(column: oauth_token::Column, value: &Option<String>) -> SimpleExpr {
    match value {
        Some(v) => column.eq(v.as_str()),
        None => column.is_null(),
    }
}
