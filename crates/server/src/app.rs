//! Start-up: keys, database, migrations, the vault check, the schema and the router;
//! then serving until SIGTERM/SIGINT, draining in-flight requests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use migration::{Migrator, MigratorTrait};
use resolver::tokens::policy::IdpPolicy;
use resolver::tokens::refresher::{self, RefresherSettings};
use resolver::{QueryLimits, ServiceSettings, Services, Vault};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::devmode::{self, DevTokens};
use crate::http::graphql::{ParsedQueries, PersistedQueries};
use crate::http::rate_limit::RateLimiter;
use crate::listen::{self, ConnectionLimits};
use crate::state::{AppState, SharedState};
use crate::{db, http};

/// A built, not yet serving, service.
pub struct App {
    pub router: Router,
    pub state: AppState,
    /// True in dev mode (generated HS256 key).
    pub dev_mode: bool,
    /// How the background token refresher runs (SPEC §6).
    pub refresher: RefresherSettings,
    /// How long in-flight requests may run on after the shutdown signal.
    pub shutdown_grace: Duration,
    /// Header read time and size limits of connections.
    pub connections: ConnectionLimits,
    /// How webhooks are delivered (SPEC §12).
    pub webhooks: events::delivery::DeliverySettings,
}

impl App {
    /// Starts the background token refresher; it stops when `shutdown` resolves.
    /// [`serve`] does this; tests that drive the router themselves may call it.
    pub fn spawn_refresher(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(refresher::run(
            self.state.services.clone(),
            self.refresher.clone(),
            shutdown,
        ))
    }

    /// Starts the webhook worker and (PostgreSQL) the live-bus listener; they stop when
    /// `shutdown` resolves. [`serve`] does this.
    pub fn spawn_event_tasks(
        &self,
        shutdown: impl Future<Output = ()> + Clone + Send + 'static,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        crate::webhooks::spawn(
            &self.state.db,
            &self.state.services.events,
            self.webhooks.clone(),
            shutdown,
        )
    }
}

/// Ties the vaulted secrets of records saved before secret bindings existed to the
/// identity provider their details name now (SPEC §10); a no-op once done.
pub async fn bind_legacy_secrets(
    db: &impl sea_orm::ConnectionTrait,
    catalog: &idp::Catalog,
) -> anyhow::Result<()> {
    let bound = resolver::details::binding::backfill(db, catalog)
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot bind stored secrets to their identity providers: {e}")
        })?;
    if bound > 0 {
        tracing::info!(
            records = bound,
            "stored secrets bound to their identity providers"
        );
    }
    Ok(())
}

/// The provider catalog: the shipped entries and `PROVIDERS_FILE`'s; a bad file is an
/// error naming its line (SPEC §11), which stops the start.
pub fn load_catalog(config: &Config) -> anyhow::Result<idp::Catalog> {
    idp::Catalog::load(config.providers_file.as_deref())
        .map_err(|error| anyhow::anyhow!("PROVIDERS_FILE cannot be used: {error}"))
}

/// Builds the service: loads the provider catalog, connects, migrates, checks that
/// every stored ciphertext's key is loaded, and assembles the router.
pub async fn build(config: &Config) -> anyhow::Result<App> {
    // First: a bad PROVIDERS_FILE stops the start with its line (SPEC §11), before
    // anything else is touched.
    let catalog = load_catalog(config)?;
    let webhooks = crate::webhooks::settings(config)?;
    let keys = devmode::resolve_keys(config)?;
    if keys.dev_jwt {
        devmode::check_bind_addr(config)?;
    }
    let vault = Vault::from_keys(keys.vault_keys.expose_secret())?;
    let url = devmode::database_url(config)?;
    // Migrate over a connection of its own, closed before serving: an SQLite connection
    // that cached the schema midway through a migration prepares upserts against it and
    // fails ("ON CONFLICT clause does not match any … UNIQUE constraint") instead of
    // noticing the new index.
    // The start-up checks run on that same one connection: a pool of several opens a
    // new connection whenever the last one is still being pinged on its way back, and on
    // PostgreSQL each costs a backend start (the bulk of start-to-ready, issue 20).
    let migrator = db::connect_with(&url, 1, config.db_acquire_timeout()).await?;
    Migrator::up(&migrator, None)
        .await
        .context("database migrations failed")?;
    bind_legacy_secrets(&migrator, &catalog).await?;
    let unknown = resolver::key_ids::unknown_key_ids(&migrator, &vault)
        .await
        .map_err(|e| anyhow::anyhow!("cannot check stored ciphertexts: {e}"))?;
    if !unknown.is_empty() {
        anyhow::bail!(
            "stored secrets are encrypted under key id(s) {} that VAULT_KEYS does not load; \
             add those keys (after the active one) and restart",
            unknown.join(", ")
        );
    }
    migrator.close().await?;
    let db = db::connect_with(&url, config.db_max_connections, config.db_acquire_timeout()).await?;
    let verifier = Arc::new(JwtVerifier::from_config(
        config,
        keys.hs256_secret.as_ref(),
    )?);
    let limits = QueryLimits {
        depth: config.limits.max_query_depth,
        complexity: config.limits.max_query_complexity,
    };
    let settings = ServiceSettings {
        save_writers: config.db_save_writers as usize,
        // Readers hold pooled connections while reads keep coming: at most half the
        // pool, so saves and the rest always find one (none: reads use the pool).
        readers: config.db_readers.min(config.db_max_connections / 2) as usize,
        idp: IdpPolicy {
            allow_http: config.idp_allow_http.clone(),
            allowed_hosts: config.idp_allowed_hosts.clone(),
            timeout: std::time::Duration::from_secs(config.limits.idp_timeout_seconds.max(1)),
            max_response_bytes: config.idp_max_response_bytes,
            proxy: config.idp_proxy_url.clone(),
        },
        callbacks: http::callback::urls(config.public_base_url()),
        replica: replica_id(config),
        catalog,
        max_records_per_tenant: config.limits.max_records_per_tenant,
        events: events::Events::new(
            webhooks.urls.clone(),
            db.get_database_backend(),
            events::Bus::new(config.ws_max_subscriptions_per_account),
        ),
    };
    let services = Services::start(db.clone(), vault, settings)
        .context("cannot build the HTTP client for identity providers")?;
    let schema = resolver::build_schema(services.clone(), limits);
    let dev_tokens = match (keys.dev_jwt, keys.hs256_secret) {
        (true, Some(secret)) => Some(Arc::new(DevTokens::new(secret))),
        _ => None,
    };
    http::metrics::install();
    let rate_limiter = Arc::new(RateLimiter::new(
        config.rate_limit_rps,
        config.rate_limit_burst,
    ));
    RateLimiter::spawn_housekeeping(&rate_limiter);
    let callback_limiter = Arc::new(RateLimiter::new(
        config.callback_rate_limit_rps,
        config.callback_rate_limit_burst,
    ));
    RateLimiter::spawn_housekeeping(&callback_limiter);
    let state = AppState::new(SharedState {
        schema,
        verifier,
        db,
        services,
        limits: config.limits.clone(),
        dev_tokens,
        rate_limiter,
        callback_limiter,
        persisted_queries: Arc::new(PersistedQueries::new(
            config.limits.apq_cache_size,
            config.limits.apq_cache_bytes,
        )),
        parsed_queries: Arc::new(ParsedQueries::new(config.limits.parsed_query_cache_size)),
        space_ui_origins: http::callback::space_ui_origins(
            &config.space_ui_origins,
            &config.cors_allowed_origins,
        )?
        .into(),
        cors_allowed_origins: config.cors_allowed_origins.clone().into(),
        sockets: events::quota::PerAccount::new(config.ws_max_sockets_per_account),
    });
    Ok(App {
        router: http::router(state.clone())?,
        state,
        dev_mode: keys.dev_jwt,
        refresher: RefresherSettings {
            interval: config.refresh_interval(),
            ahead: std::time::Duration::from_secs(config.refresh_ahead_seconds),
            batch: 100,
            concurrency: config.refresh_concurrency.max(1),
        },
        shutdown_grace: config.shutdown_grace(),
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.limits.header_read_timeout_seconds),
            max_header_bytes: config.limits.max_header_bytes,
        },
        webhooks,
    })
}

/// `REPLICA_ID`, else the host name and process id.
fn replica_id(config: &Config) -> String {
    config.replica_id.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
        let name: String = format!("{host}-{}", std::process::id())
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(60)
            .collect();
        name
    })
}

/// Serves `app` on `listener`, with the background token refresher, until `shutdown`
/// resolves; then stops accepting connections and lets in-flight requests finish, for
/// at most the grace period (SPEC §9), after which the remaining ones are abandoned.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopped_signal = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let refresher = app.spawn_refresher(stopped_signal());
    let event_tasks = app.spawn_event_tasks(futures_util::FutureExt::shared(stopped_signal()));
    let drained = listen::serve_until(app.router, listener, &app.connections, shutdown).await;
    let _ = stop.send(true);
    let grace = app.shutdown_grace;
    if tokio::time::timeout(grace, drained.wait()).await.is_err() {
        tracing::warn!(
            grace_seconds = grace.as_secs(),
            "in-flight requests still running after the shutdown grace period; abandoning them"
        );
    }
    refresher.abort();
    // The webhook worker finishes the attempts in flight (bounded by their time limit)
    // and records their outcome, so a restart does not wait out their claims.
    let settle = app.webhooks.timeout + Duration::from_secs(1);
    for task in event_tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(settle, task).await.is_err() {
            abort.abort();
        }
    }
    Ok(())
}

/// The `serve` command: build, bind, announce, serve until a signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let app = build(&config).await?;
    let listener = TcpListener::bind(config.bind_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind_addr))?;
    let address = listener.local_addr()?;
    tracing::info!(graphiql = %format!("http://{address}/graphql"), "spaces-oauth is ready; open GraphiQL in a browser");
    if app.dev_mode {
        tracing::info!(
            "dev mode: get a bearer token with `spaces-oauth token --account {} --space {}`",
            devmode::DEV_ACCOUNT,
            devmode::DEV_SPACE
        );
    }
    serve(app, listener, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}
