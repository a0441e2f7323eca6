//! The key of a connector record (SPEC §3): the caller's tenant plus four client ids.
//! Parsed once from GraphQL input; a `RecordKey` in hand is always valid.

use entity::connector_details::{Column, Entity};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::context::Tenant;
use crate::error::{ApiError, ApiResult};

/// The longest key string accepted (SPEC §3).
pub const MAX_KEY_LEN: usize = 255;

/// A validated record key, bound to the tenant it was parsed for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RecordKey {
    pub(crate) space_guid: String,
    pub(crate) account_id: String,
    pub(crate) integration_pack_instance_id: String,
    pub(crate) process_id: String,
    pub(crate) env_id: String,
    pub(crate) connection_id: String,
}

/// The key fields as a client sends them, before validation.
pub struct KeyFields<'a> {
    pub integration_pack_instance_id: &'a str,
    pub process_id: &'a str,
    pub env_id: &'a str,
    pub connection_id: &'a str,
    pub catalog_guid: &'a str,
}

impl RecordKey {
    /// Validates the client's key fields for `tenant`: each non-empty and at most
    /// 255 characters, and `catalogGuid` equal to the `SPACE_GUID` header.
    pub fn parse(tenant: &Tenant, fields: KeyFields<'_>) -> ApiResult<Self> {
        let ipack = fields.integration_pack_instance_id;
        if ipack.is_empty() || ipack.chars().count() > MAX_KEY_LEN {
            return Err(ApiError::IPackInstanceIdInvalid(format!(
                "integrationPackInstanceId must be 1 to {MAX_KEY_LEN} characters"
            )));
        }
        for (field, value) in [
            ("processId", fields.process_id),
            ("envId", fields.env_id),
            ("connectionId", fields.connection_id),
            ("catalogGuid", fields.catalog_guid),
        ] {
            check_key_string(field, value)?;
        }
        if fields.catalog_guid != tenant.space_guid() {
            return Err(ApiError::SpaceGuidMismatch);
        }
        Ok(Self {
            space_guid: tenant.space_guid().to_owned(),
            account_id: tenant.account_id().to_owned(),
            integration_pack_instance_id: ipack.to_owned(),
            process_id: fields.process_id.to_owned(),
            env_id: fields.env_id.to_owned(),
            connection_id: fields.connection_id.to_owned(),
        })
    }

    /// The key of a stored row.
    pub fn of(model: &entity::connector_details::Model) -> Self {
        Self {
            space_guid: model.space_guid.clone(),
            account_id: model.account_id.clone(),
            integration_pack_instance_id: model.integration_pack_instance_id.clone(),
            process_id: model.process_id.clone(),
            env_id: model.env_id.clone(),
            connection_id: model.connection_id.clone(),
        }
    }

    /// A new row at this key with a fresh id; the caller sets the other columns.
    pub(crate) fn new_row(&self) -> entity::connector_details::ActiveModel {
        use sea_orm::ActiveValue::Set;
        entity::connector_details::ActiveModel {
            id: Set(crate::random_uuid()),
            space_guid: Set(self.space_guid.clone()),
            account_id: Set(self.account_id.clone()),
            integration_pack_instance_id: Set(self.integration_pack_instance_id.clone()),
            process_id: Set(self.process_id.clone()),
            env_id: Set(self.env_id.clone()),
            connection_id: Set(self.connection_id.clone()),
            key_hash: Set(self.key_hash()),
            ..Default::default()
        }
    }

    /// SHA-256 over each key part's byte length (8 bytes, big-endian) and bytes, in hex:
    /// the unique column of the record key. Migration m20261202_000020 holds a frozen
    /// copy for existing rows; change neither without the other.
    pub(crate) fn key_hash(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let mut hasher = Sha256::new();
        for part in self.parts() {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }

    /// The WHERE condition matching exactly the record at this key: every statement on
    /// one record filters with it, so none can forget the tenant.
    pub(crate) fn condition(&self) -> sea_orm::Condition {
        // The hash finds the row through its unique index; the parts rule out a collision.
        sea_orm::Condition::all()
            .add(Column::KeyHash.eq(self.key_hash()))
            .add(Column::SpaceGuid.eq(self.space_guid.as_str()))
            .add(Column::AccountId.eq(self.account_id.as_str()))
            .add(Column::IntegrationPackInstanceId.eq(self.integration_pack_instance_id.as_str()))
            .add(Column::ProcessId.eq(self.process_id.as_str()))
            .add(Column::EnvId.eq(self.env_id.as_str()))
            .add(Column::ConnectionId.eq(self.connection_id.as_str()))
    }

    /// Selects the record at this key.
    pub(crate) fn select(&self) -> sea_orm::Select<Entity> {
        Entity::find().filter(self.condition())
    }

    /// The record at this key, if any.
    pub(crate) async fn find(
        &self,
        db: &impl sea_orm::ConnectionTrait,
    ) -> ApiResult<Option<entity::connector_details::Model>> {
        Ok(self.select().one(db).await?)
    }

    /// The record at this key, locked until the transaction `db` ends (PostgreSQL; an
    /// SQLite transaction that read it fails to write if another wrote it meanwhile).
    pub(crate) async fn find_for_update(
        &self,
        db: &impl sea_orm::ConnectionTrait,
    ) -> ApiResult<Option<entity::connector_details::Model>> {
        use sea_orm::QuerySelect;
        let mut select = self.select();
        if db.get_database_backend() == sea_orm::DbBackend::Postgres {
            select = select.lock_exclusive();
        }
        Ok(select.one(db).await?)
    }

    /// True when `model` is the row stored at this key.
    pub fn is_of(&self, model: &entity::connector_details::Model) -> bool {
        self.parts()
            == [
                model.space_guid.as_str(),
                &model.account_id,
                &model.integration_pack_instance_id,
                &model.process_id,
                &model.env_id,
                &model.connection_id,
            ]
    }

    /// The key's parts in a fixed order, for binding into vault ciphertexts.
    pub(crate) fn parts(&self) -> [&str; 6] {
        [
            &self.space_guid,
            &self.account_id,
            &self.integration_pack_instance_id,
            &self.process_id,
            &self.env_id,
            &self.connection_id,
        ]
    }
}

/// Checks one key string: non-empty, at most `MAX_KEY_LEN` characters.
pub(crate) fn check_key_string(field: &'static str, value: &str) -> ApiResult<()> {
    if value.is_empty() {
        return Err(ApiError::invalid_input(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > MAX_KEY_LEN {
        return Err(ApiError::invalid_input(
            field,
            format!("{field} must be at most {MAX_KEY_LEN} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{AccountId, Caller, SpaceGuid};

    fn tenant() -> Tenant {
        Caller::authenticated(
            SpaceGuid::parse(b"space-1").unwrap(),
            AccountId::parse("acct".into()).unwrap(),
            vec![],
        )
        .tenant()
        .clone()
    }

    fn fields<'a>(ipack: &'a str, catalog: &'a str) -> KeyFields<'a> {
        KeyFields {
            integration_pack_instance_id: ipack,
            process_id: "1",
            env_id: "2",
            connection_id: "3",
            catalog_guid: catalog,
        }
    }

    #[test]
    fn a_key_of_255_characters_is_accepted_and_256_is_not() {
        let ok = "x".repeat(255);
        assert!(RecordKey::parse(&tenant(), fields(&ok, "space-1")).is_ok());
        let long = "x".repeat(256);
        let err = RecordKey::parse(&tenant(), fields(&long, "space-1")).unwrap_err();
        assert_eq!(err.code(), crate::Code::IpackInstanceIdInvalid);
    }

    #[test]
    fn a_catalog_guid_other_than_the_header_is_a_mismatch() {
        let err = RecordKey::parse(&tenant(), fields("p", "space-2")).unwrap_err();
        assert_eq!(err.code(), crate::Code::SpaceGuidMismatch);
    }

    #[test]
    fn an_empty_process_id_names_the_field() {
        let mut f = fields("p", "space-1");
        f.process_id = "";
        match RecordKey::parse(&tenant(), f) {
            Err(ApiError::InvalidInput { field, .. }) => assert_eq!(field, "processId"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
