//! Start-up: keys, database, migrations, the vault check, the schema and the router;
//! then serving until SIGTERM/SIGINT, draining in-flight requests.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use migration::{Migrator, MigratorTrait};
use resolver::{QueryLimits, Services, Vault};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::devmode::{self, DevTokens};
use crate::state::AppState;
use crate::{db, http};

/// A built, not yet serving, service.
pub struct App {
    pub router: Router,
    pub state: AppState,
    /// True in dev mode (generated HS256 key).
    pub dev_mode: bool,
}

/// Builds the service: connects, migrates, checks that every stored ciphertext's key
/// is loaded, and assembles the router.
pub async fn build(config: &Config) -> anyhow::Result<App> {
    let keys = devmode::resolve_keys(config)?;
    let vault = Vault::from_keys(keys.vault_keys.expose_secret())?;
    let url = devmode::database_url(config)?;
    // Migrate over a connection of its own, closed before serving: an SQLite connection
    // that cached the schema midway through a migration prepares upserts against it and
    // fails ("ON CONFLICT clause does not match any … UNIQUE constraint") instead of
    // noticing the new index.
    let migrator = db::connect(&url, 1).await?;
    Migrator::up(&migrator, None)
        .await
        .context("database migrations failed")?;
    migrator.close().await?;
    let db = db::connect(&url, config.db_max_connections).await?;
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
    let state = AppState {
        schema,
        verifier,
        db,
        limits: config.limits.clone(),
        dev_tokens,
    };
    Ok(App {
        router: http::router(state.clone()),
        state,
        dev_mode: keys.dev_jwt,
    })
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app.router)
        .with_graceful_shutdown(shutdown)
        .await?;
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
