//! Start-up: keys, database, migrations, the vault check, the schema and the router;
//! then serving until SIGTERM/SIGINT, draining in-flight requests.

use std::future::{Future, IntoFuture as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use migration::{Migrator, MigratorTrait};
use resolver::{QueryLimits, Services, Vault};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::devmode::{self, DevTokens};
use crate::http::graphql::PersistedQueries;
use crate::http::rate_limit::RateLimiter;
use crate::state::AppState;
use crate::{db, http};

/// A built, not yet serving, service.
pub struct App {
    pub router: Router,
    pub state: AppState,
    /// True in dev mode (generated HS256 key).
    pub dev_mode: bool,
    /// How long in-flight requests may run on after the shutdown signal.
    pub shutdown_grace: Duration,
}

/// Builds the service: connects, migrates, checks that every stored ciphertext's key
/// is loaded, and assembles the router.
pub async fn build(config: &Config) -> anyhow::Result<App> {
    let keys = devmode::resolve_keys(config)?;
    let vault = Vault::from_keys(keys.vault_keys.expose_secret())?;
    let db = db::connect_with(
        &devmode::database_url(config)?,
        config.db_max_connections,
        config.db_acquire_timeout(),
    )
    .await?;
    Migrator::up(&db, None)
        .await
        .context("database migrations failed")?;
    let unknown = resolver::key_rotation::unknown_key_ids(&db, &vault)
        .await
        .map_err(|e| anyhow::anyhow!("cannot check stored ciphertexts: {e}"))?;
    if !unknown.is_empty() {
        anyhow::bail!(
            "stored secrets are encrypted under key id(s) {} that VAULT_KEYS does not load; \
             add those keys (after the active one) and restart",
            unknown.join(", ")
        );
    }
    let verifier = Arc::new(JwtVerifier::from_config(
        config,
        keys.hs256_secret.as_ref(),
    )?);
    let limits = QueryLimits {
        depth: config.limits.max_query_depth,
        complexity: config.limits.max_query_complexity,
    };
    let schema = resolver::build_schema(
        Services {
            db: db.clone(),
            vault,
        },
        limits,
    );
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
    let state = AppState {
        schema,
        verifier,
        db,
        limits: config.limits.clone(),
        dev_tokens,
        rate_limiter,
        persisted_queries: Arc::new(PersistedQueries::new(config.limits.apq_cache_size)),
        cors_allowed_origins: config.cors_allowed_origins.clone().into(),
    };
    Ok(App {
        router: http::router(state.clone())?,
        state,
        dev_mode: keys.dev_jwt,
        shutdown_grace: config.shutdown_grace(),
    })
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting
/// connections and lets in-flight requests finish, for at most the grace period
/// (SPEC §9), after which the remaining ones are abandoned.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let signalled = Arc::new(Notify::new());
    let notify = signalled.clone();
    let server = axum::serve(listener, app.router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            notify.notify_one();
        })
        .into_future();
    let grace = app.shutdown_grace;
    let deadline = async move {
        signalled.notified().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served?,
        () = deadline => {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "in-flight requests still running after the shutdown grace period; abandoning them"
            );
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
