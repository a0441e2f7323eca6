//! The test harness: a server per test on its own database ([`TestApp`]), bearer
//! tokens ([`TokenBuilder`]), GraphQL fixtures, database dumps and captured logs.
//!
//! Write a test as `async fn name(backend: Backend)` and list it in
//! [`backend_tests!`], which runs it once on SQLite and once on PostgreSQL:
//!
//! ```ignore
//! use crate::helpers::*;
//!
//! backend_tests!(save_twice_with_the_same_key_keeps_the_id);
//!
//! async fn save_twice_with_the_same_key_keeps_the_id(backend: Backend) {
//!     let Some(app) = TestApp::spawn(backend).await else { return };
//!     let alice = app.tenant("acct-1", SAMPLE_SPACE);
//!     let first = alice.save(save_input(SAMPLE_SPACE)).await;
//!     let second = alice.save(save_input(SAMPLE_SPACE).with("clientId", "B")).await;
//!     assert_eq!(first["id"], second["id"]);
//! }
//! ```
//!
//! Configuration is built in code (`TestApp::spawn_with(backend, |config| …)`), never
//! through the process environment; the real binary runs as a child process
//! ([`binary`]) with variables set on the child only.

pub mod app;
pub mod backend;
pub mod binary;
pub mod dump;
pub mod fixtures;
pub mod jwks;
pub mod logs;
pub mod tokens;
pub mod webhooks;
pub mod ws;

pub use app::{Tenant, TestApp, metric_sample};
pub use backend::Backend;
pub use fixtures::*;
pub use tokens::TokenBuilder;

/// Runs each listed `async fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`. The PostgreSQL half skips (with a notice) when no server answers,
/// unless `REQUIRE_POSTGRES=1`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}
