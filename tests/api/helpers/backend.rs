//! The two databases every API test runs on, and a fresh database per test: an SQLite
//! file in a temporary directory, or a PostgreSQL database `so_test_<uuid>` created on
//! the server at `TEST_DATABASE_URL` and dropped again when the test ends.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tempfile::TempDir;

/// The PostgreSQL server used when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The database backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database created for one test.
pub struct TestDatabase {
    /// The `DATABASE_URL` the server gets.
    pub url: String,
    /// The SQLite file, for raw-byte searches.
    pub sqlite_path: Option<PathBuf>,
    /// For PostgreSQL: the maintenance URL and the database name, to drop it.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates the database; `None` when PostgreSQL is wanted but unreachable (and
    /// `REQUIRE_POSTGRES` is not `1`), after a visible notice on stderr.
    pub async fn create(backend: Backend, dir: &TempDir) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("spaces-oauth-test.db");
                Some(Self {
                    url: format!("sqlite://{}", path.display()),
                    sqlite_path: Some(path),
                    postgres: None,
                })
            }
            Backend::Postgres => Self::create_postgres().await,
        }
    }

    async fn create_postgres() -> Option<Self> {
        let admin_url = admin_url();
        let admin = match connect(&admin_url).await {
            Ok(db) => db,
            Err(error) => {
                let test = std::thread::current()
                    .name()
                    .unwrap_or("<unnamed test>")
                    .to_owned();
                if std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                    panic!(
                        "REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at TEST_DATABASE_URL: {error}"
                    );
                }
                announce_postgres_skips(&error.to_string());
                eprintln!("SKIPPED (no PostgreSQL): {test}");
                return None;
            }
        };
        let name = format!("so_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("cannot create the test database");
        let _ = admin.close().await;
        let mut url = reqwest::Url::parse(&admin_url).expect("TEST_DATABASE_URL is not a URL");
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: url.to_string(),
            sqlite_path: None,
            postgres: Some((admin_url, name)),
        })
    }
}

impl Drop for TestDatabase {
    /// Drops a PostgreSQL test database (forcing out the server's connections), on a
    /// thread of its own because `Drop` cannot await. `.ci/run` also drops leftovers.
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// Says once per run, on the terminal itself (libtest captures `eprintln!` of passing
/// tests), how many PostgreSQL tests of this run are skipped: a green run that tested
/// only SQLite must not look like a full one.
fn announce_postgres_skips(error: &str) {
    static ANNOUNCED: std::sync::Once = std::sync::Once::new();
    ANNOUNCED.call_once(|| {
        use std::io::Write;
        let count =
            postgres_tests_in_this_run().map_or_else(|| "every".to_owned(), |n| n.to_string());
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n*** PostgreSQL unreachable at TEST_DATABASE_URL ({error}): {count} PostgreSQL \
             tests of this run are SKIPPED and pass without running. Set REQUIRE_POSTGRES=1 \
             to make this a failure. ***\n"
        );
    });
}

/// The number of `…::postgres` tests this run selects: the test binary lists itself
/// with the same filter arguments it was started with.
fn postgres_tests_in_this_run() -> Option<usize> {
    let exe = std::env::current_exe().ok()?;
    let filters = std::env::args().skip(1).filter(|arg| {
        !arg.starts_with("--test-threads")
            && !matches!(
                arg.as_str(),
                "--nocapture" | "--show-output" | "--quiet" | "-q"
            )
    });
    let listing = std::process::Command::new(exe)
        .args(filters)
        .args(["--list", "--format", "terse"])
        .output()
        .ok()?;
    let listing = String::from_utf8(listing.stdout).ok()?;
    Some(
        listing
            .lines()
            .filter(|line| line.ends_with("::postgres: test"))
            .count(),
    )
}

/// `TEST_DATABASE_URL`, or the local server.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// A century: sqlx's idle reaper sweeps at this period.
const REAPER_PERIOD: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A small pool on `url`, quiet and quick to give up.
pub async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(2)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(5))
        // sea-orm cannot turn sqlx's idle reaper off (see `server::db`): it sweeps once,
        // as the pool opens with nothing to race, then sleeps past any test.
        .idle_timeout(REAPER_PERIOD)
        .max_lifetime(REAPER_PERIOD)
        .sqlx_logging(false);
    Database::connect(options).await
}
