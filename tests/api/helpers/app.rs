//! [`TestApp`]: the real router (`server::build` + `server::serve`) on 127.0.0.1:0,
//! over a database of its own, with explicit keys; plus HTTP helpers to talk to it and a
//! connection to assert on what it stored.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use resolver::Vault;
use sea_orm::{DatabaseConnection, EntityTrait};
use secrecy::SecretString;
use serde_json::{Value, json};
use server::Config;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::backend::{self, Backend, TestDatabase};
use super::binary::ServerProcess;
use super::logs;
use super::tokens::TokenBuilder;

/// How long a graceful stop may take before the server task is aborted.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

struct RunningServer {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
}

/// A running server on a fresh database. Dropping it stops the server and drops the
/// test database.
pub struct TestApp {
    /// Where the server listens now (changes on restart).
    pub address: SocketAddr,
    /// The configuration the server was (re)started with; `restart` reuses it.
    pub config: Config,
    /// The HS256 secret bearer tokens are signed with.
    pub hs256_secret: String,
    client: reqwest::Client,
    server: Option<RunningServer>,
    /// The real binary instead of the in-process router ([`TestApp::spawn_process`]).
    process: Option<ServerProcess>,
    db: Option<DatabaseConnection>,
    // Dropped after the server and the connection above (fields drop in order).
    database: TestDatabase,
    dir: TempDir,
}

impl TestApp {
    /// A server with the default test configuration; `None` when `backend` is
    /// PostgreSQL and no server answers (see [`TestDatabase::create`]).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like [`spawn`](Self::spawn), with `adjust` applied to the configuration first.
    /// Panics when the server does not start.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        Self::try_spawn_with(backend, adjust).await.map(|result| {
            result.unwrap_or_else(|error| panic!("the server did not start: {error}"))
        })
    }

    /// Like [`spawn_with`](Self::spawn_with), but a server that refuses to start is an
    /// `Err` with its start-up error text.
    pub async fn try_spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<Result<Self, String>> {
        logs::install();
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let database = TestDatabase::create(backend, &dir).await?;
        let hs256_secret = format!("test-hs256-{}", uuid::Uuid::new_v4());
        let mut config = Config {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: Some(database.url.clone()),
            data_dir: dir.path().join("data"),
            jwt_hs256_secret: Some(SecretString::from(hs256_secret.clone())),
            vault_keys: Some(SecretString::from(Vault::generate_key_entry("k1"))),
            db_max_connections: 5,
            ..Config::default()
        };
        adjust(&mut config);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("cannot build the HTTP client");
        let mut app = Self {
            address: config.bind_addr,
            config,
            hs256_secret,
            client,
            server: None,
            process: None,
            db: None,
            database,
            dir,
        };
        match app.start().await {
            Ok(()) => Some(Ok(app)),
            Err(error) => Some(Err(error)),
        }
    }

    /// A server that is the real `spaces-oauth` binary, a process of its own, with the
    /// same database and keys as [`spawn`](Self::spawn) plus `envs`. For what the
    /// in-process router cannot isolate: the metrics recorder is process-wide, so a
    /// test that counts metrics must not share it with the tests running beside it.
    /// `config` mirrors the keys only; `restart` is for in-process apps.
    pub async fn spawn_process(backend: Backend, envs: &[(&str, &str)]) -> Option<Self> {
        let mut app = match Self::try_spawn_with(backend, |_| {}).await? {
            Ok(app) => app,
            Err(error) => panic!("the server did not start: {error}"),
        };
        app.stop().await;
        let vault_keys = {
            use secrecy::ExposeSecret as _;
            let keys = app.config.vault_keys.as_ref().expect("vault keys are set");
            keys.expose_secret().to_owned()
        };
        let data_dir = app.config.data_dir.display().to_string();
        let mut all = vec![
            ("DATABASE_URL", app.database.url.as_str()),
            ("DATA_DIR", data_dir.as_str()),
            ("JWT_HS256_SECRET", app.hs256_secret.as_str()),
            ("VAULT_KEYS", vault_keys.as_str()),
        ];
        all.extend_from_slice(envs);
        let process = ServerProcess::start(&all)
            .await
            .unwrap_or_else(|error| panic!("spaces-oauth did not start: {error}"));
        app.address = process.address.parse().expect("the process's address");
        app.process = Some(process);
        Some(app)
    }

    async fn start(&mut self) -> Result<(), String> {
        let app = server::build(&self.config)
            .await
            .map_err(|error| format!("{error:#}"))?;
        let (address, server) = launch(app).await;
        self.address = address;
        self.server = Some(server);
        if self.db.is_none() {
            self.db = Some(
                backend::connect(&self.database.url)
                    .await
                    .expect("cannot connect to the test database"),
            );
        }
        Ok(())
    }

    /// Stops the server gracefully (in-flight requests finish). Idempotent.
    pub async fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            assert!(
                process.stop().await.success(),
                "spaces-oauth did not exit 0"
            );
        }
        let Some(RunningServer { shutdown, mut task }) = self.server.take() else {
            return;
        };
        let _ = shutdown.send(());
        match tokio::time::timeout(STOP_TIMEOUT, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => panic!("the server failed while stopping: {error}"),
            Ok(Err(join_error)) => panic!("the server task failed: {join_error}"),
            Err(_) => {
                task.abort();
                panic!("the server did not stop within {STOP_TIMEOUT:?}");
            }
        }
    }

    /// Stops the server and starts a new one on the same database and keys.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {})
            .await
            .unwrap_or_else(|error| panic!("the server did not restart: {error}"));
    }

    /// Stops the server, applies `adjust` to the configuration and starts again;
    /// `Err` (server left stopped) with the start-up error when it refuses to start.
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Config)) -> Result<(), String> {
        self.stop().await;
        adjust(&mut self.config);
        self.start().await
    }

    /// The test's temporary directory (for key files and the like).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The database the server uses, for assertions.
    pub fn db(&self) -> &DatabaseConnection {
        self.db.as_ref().expect("the database connection is open")
    }

    /// The database description (URL, SQLite file).
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The vault of the current configuration, to open what the server sealed.
    pub fn vault(&self) -> Vault {
        use secrecy::ExposeSecret as _;
        let keys = self.config.vault_keys.as_ref().expect("vault keys are set");
        Vault::from_keys(keys.expose_secret()).expect("vault keys parse")
    }

    /// Every stored connector record.
    pub async fn records(&self) -> Vec<entity::connector_details::Model> {
        entity::connector_details::Entity::find()
            .all(self.db())
            .await
            .expect("cannot read connector_details")
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The server's `/metrics` exposition.
    pub async fn metrics(&self) -> String {
        let (_, _, body) = send(self.request(Method::GET, "/metrics")).await;
        body.as_str().expect("the exposition is text").to_owned()
    }

    /// A raw request to `path`, for anything the helpers below do not cover.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// A second server on the same database and configuration (another replica).
    pub async fn replica(&self) -> Replica {
        let built = server::build(&self.config)
            .await
            .expect("the replica starts");
        let (address, server) = launch(built).await;
        Replica { address, server }
    }

    /// A builder for a token signed with this app's HS256 secret.
    pub fn token_builder(&self, account: &str) -> TokenBuilder {
        TokenBuilder::new(account, &self.hs256_secret)
    }

    /// A valid five-minute token for `account`, limited to `space` when given.
    pub fn token(&self, account: &str, space: Option<&str>) -> String {
        let builder = self.token_builder(account);
        match space {
            Some(space) => builder.space(space).sign(),
            None => builder.sign(),
        }
    }

    /// A caller acting as `account` in `space` (its token is limited to `space`).
    pub fn tenant(&self, account: &str, space: &str) -> Tenant<'_> {
        Tenant {
            app: self,
            space: space.to_owned(),
            token: self.token(account, Some(space)),
        }
    }

    /// `POST /graphql` with `{query, variables}`, `Accept: application/json`, and the
    /// `Authorization: Bearer` / `SPACE_GUID` headers when given.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        space_guid: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, HeaderMap, Value) {
        self.graphql_body(
            token,
            space_guid,
            json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// `POST /graphql` with any JSON body (operationName, batches …).
    pub async fn graphql_body(
        &self,
        token: Option<&str>,
        space_guid: Option<&str>,
        body: Value,
    ) -> (StatusCode, HeaderMap, Value) {
        send(self.graphql_request(token, space_guid, body)).await
    }

    /// The request [`TestApp::graphql_body`] sends, unsent (to send many at once).
    pub fn graphql_request(
        &self,
        token: Option<&str>,
        space_guid: Option<&str>,
        body: Value,
    ) -> RequestBuilder {
        let mut request = self
            .request(Method::POST, "/graphql")
            .header("Accept", "application/json")
            .json(&body);
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(space) = space_guid {
            request = request.header("SPACE_GUID", space);
        }
        request
    }
}

/// Serves `app` on 127.0.0.1:0 until its shutdown sender fires.
async fn launch(app: server::App) -> (SocketAddr, RunningServer) {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("cannot bind 127.0.0.1:0");
    let address = listener.local_addr().expect("no local address");
    let (shutdown, signal) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server::serve(app, listener, async {
            let _ = signal.await;
        })
        .await
        .map_err(|error| format!("{error:#}"))
    });
    (address, RunningServer { shutdown, task })
}

/// The value of the sample `name` (series name and labels, as exposed) in a `/metrics`
/// exposition; 0 when absent.
pub fn metric_sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Sends `request` and reads the answer; a body that is not JSON becomes a JSON string.
pub async fn send(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.expect("the request failed");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("cannot read the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.shutdown.send(());
            server.task.abort();
        }
    }
}

/// Another server on a [`TestApp`]'s database; stopped by [`Replica::stop`] or drop.
pub struct Replica {
    /// Where it listens.
    pub address: SocketAddr,
    server: RunningServer,
}

impl Replica {
    /// Stops it gracefully; panics when it fails.
    pub async fn stop(self) {
        let _ = self.server.shutdown.send(());
        let stopped = tokio::time::timeout(STOP_TIMEOUT, self.server.task).await;
        stopped
            .expect("the replica stops in time")
            .expect("the replica task")
            .expect("the replica serves");
    }
}

/// One caller (account + Space, with a token limited to that Space).
pub struct Tenant<'a> {
    pub app: &'a TestApp,
    pub space: String,
    pub token: String,
}

impl Tenant<'_> {
    /// Sends a GraphQL request as this caller.
    pub async fn graphql(&self, query: &str, variables: Value) -> (StatusCode, HeaderMap, Value) {
        self.app
            .graphql(Some(&self.token), Some(&self.space), query, variables)
            .await
    }

    /// Sends a GraphQL request that must succeed (HTTP 200, no `errors`); its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let (status, _, body) = self.graphql(query, variables).await;
        assert_eq!(status, StatusCode::OK, "unexpected status; body: {body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Saves `input` (see [`super::fixtures::save_input`]) and returns the record.
    pub async fn save(&self, input: Value) -> Value {
        self.data(super::fixtures::SAVE, json!({ "input": input }))
            .await["saveIPackInstanceOauthConnectorDetails"]
            .clone()
    }

    /// The request [`Tenant::save`] sends, to be sent later (e.g. many at once).
    pub fn save_request(&self, input: Value) -> RequestBuilder {
        self.app.graphql_request(
            Some(&self.token),
            Some(&self.space),
            json!({ "query": super::fixtures::SAVE, "variables": { "input": input } }),
        )
    }

    /// The record at `key` (see [`super::fixtures::key_input`]), or `Value::Null`.
    pub async fn find(&self, key: Value) -> Value {
        self.data(super::fixtures::FIND, json!({ "input": key }))
            .await["IPackInstanceOAuthConnectorDetails"]
            .clone()
    }
}
