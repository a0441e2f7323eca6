//! The GraphQL schema of spaces-oauth and the rules behind it (SPEC §3–§6).
//!
//! This crate knows nothing of HTTP: the server authenticates the request, puts a
//! [`Caller`] into the request data and executes the schema built here.

pub mod client_secret;
pub mod code;
pub mod connection_events;
pub mod connection_status;
pub mod connection_test;
pub mod connector_details;
pub mod context;
pub mod db_clock;
pub mod details;
pub mod error;
pub mod held_token;
pub mod key_ids;
pub mod key_rotation;
pub mod lifecycle;
pub mod record_key;
pub mod record_reads;
pub mod tokens;
pub mod vault;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

pub use code::Code;
pub use context::{AccountId, Caller, SpaceGuid, SpaceGuidError};
pub use error::{ApiError, ApiResult};
pub use vault::Vault;

/// A random (version 4) UUID from the thread's CSPRNG: `Uuid::new_v4` asks the kernel
/// for every one, two `getrandom` syscalls per save (record id and request id).
pub fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// What resolvers need from the running service.
#[derive(Clone, Debug)]
pub struct Services {
    pub db: DatabaseConnection,
    pub vault: Vault,
    /// Where saves wait to be written, together with others that arrive meanwhile.
    pub saves: connector_details::save_queue::SaveQueue,
    /// Reads of records by key, one statement each, shared by reads that arrive together.
    pub reads: record_reads::RecordReads,
    /// The IdP client and settings of token generation and refresh (SPEC §6).
    pub tokens: tokens::TokenServices,
    /// The most records one tenant may hold (SPEC §13 `MAX_RECORDS_PER_TENANT`).
    pub max_records_per_tenant: u64,
    /// The events outbox and the live bus (SPEC §12).
    pub events: events::Events,
}

/// What [`Services::start`] needs besides the database and the vault.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// Save statements in flight at most (the save queue's writers; one on SQLite).
    pub save_writers: usize,
    /// Readers of records by key (PostgreSQL; `record_reads`).
    pub readers: usize,
    /// The operator's policy for outbound calls to identity providers (SPEC §6).
    pub idp: tokens::policy::IdpPolicy,
    /// The server's callback URLs.
    pub callbacks: tokens::CallbackUrls,
    /// This replica's name in lease owners.
    pub replica: String,
    /// The provider catalog: the shipped entries and the operator's (SPEC §11).
    pub catalog: idp::Catalog,
    /// The most records one tenant may hold (SPEC §13 `MAX_RECORDS_PER_TENANT`).
    pub max_records_per_tenant: u64,
    /// The events outbox and the live bus (SPEC §12).
    pub events: events::Events,
}

/// Discovery documents cached at once (one per `discoveryURL` in use).
const DISCOVERY_CACHE_SIZE: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(1024) {
    Some(size) => size,
    None => std::num::NonZeroUsize::MIN,
};

impl Services {
    /// Starts the resolver's services over `db` and `vault`: the save queue, the
    /// readers and the IdP client. The server's one entry point; must be called within
    /// Tokio.
    pub fn start(
        db: DatabaseConnection,
        vault: Vault,
        settings: ServiceSettings,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            saves: connector_details::save_queue::SaveQueue::start(
                db.clone(),
                settings.save_writers,
                settings.max_records_per_tenant,
            ),
            reads: record_reads::RecordReads::start(db.clone(), settings.readers),
            tokens: tokens::TokenServices {
                idp: tokens::http::IdpClient::new(settings.idp)?,
                callbacks: settings.callbacks,
                replica: settings.replica,
                catalog: std::sync::Arc::new(settings.catalog),
                discovery: std::sync::Arc::new(idp::DiscoveryCache::new(
                    DISCOVERY_CACHE_SIZE,
                    idp::discovery::MAX_TTL,
                )),
            },
            events: settings.events,
            db,
            vault,
            max_records_per_tenant: settings.max_records_per_tenant,
        })
    }

    /// The services of the schema being executed.
    pub fn of<'a>(ctx: &async_graphql::Context<'a>) -> ApiResult<&'a Services> {
        ctx.data::<Services>()
            .map_err(|_| ApiError::internal(std::io::Error::other("services missing from schema")))
    }
}

/// Every query of the service.
#[derive(MergedObject, Default)]
pub struct Query(
    connector_details::query::ConnectorDetailsQuery,
    tokens::query::TokenQuery,
    tokens::providers::ProvidersQuery,
);

/// Every mutation of the service.
#[derive(MergedObject, Default)]
pub struct Mutation(
    connector_details::mutation::ConnectorDetailsMutation,
    client_secret::mutation::ClientSecretMutation,
    tokens::mutation::TokenMutation,
    connection_test::mutation::ConnectionTestMutation,
);

/// Every subscription of the service.
#[derive(MergedSubscription, Default)]
pub struct Subscription(connection_events::subscription::ConnectionEventsSubscription);

/// The executable schema.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Limits applied to every operation (SPEC §8).
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    pub depth: usize,
    pub complexity: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            depth: 16,
            complexity: 1000,
        }
    }
}

/// The schema without data, for SDL export and tests.
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
}

/// The executable schema over `services`.
pub fn build_schema(services: Services, limits: QueryLimits) -> AppSchema {
    schema_builder()
        .data(services)
        .limit_depth(limits.depth)
        .limit_complexity(limits.complexity)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_uuids_are_version_4_and_distinct() {
        let (a, b) = (super::random_uuid(), super::random_uuid());
        assert_eq!(a.get_version(), Some(uuid::Version::Random));
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }
}
