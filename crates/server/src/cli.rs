//! The `spaces-oauth` command line (SPEC §9): `serve` (default), `migrate`, `token`,
//! `rotate-keys`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use resolver::Vault;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::{app, db, devmode, telemetry};

/// spaces-oauth: OAuth 2.0 connector details, client secrets and tokens for Spaces.
#[derive(Parser, Debug)]
#[command(name = "spaces-oauth", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve GraphQL over HTTP (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Mint a bearer token signed with the HS256 secret (dev mode's, or JWT_HS256_SECRET).
    Token(TokenArgs),
    /// Re-encrypt every stored secret under the active (first) key of VAULT_KEYS.
    RotateKeys(RotateArgs),
}

#[derive(Args, Debug)]
struct TokenArgs {
    /// The account the token is for.
    #[arg(long)]
    account: String,
    /// Limit the token to this Space (its `spaces` claim).
    #[arg(long)]
    space: Option<String>,
    /// Space-separated scopes, e.g. `oauth.token.read`.
    #[arg(long)]
    scope: Option<String>,
    /// Lifetime in seconds (1–31536000).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    ttl_seconds: u64,
}

#[derive(Args, Debug)]
struct RotateArgs {
    /// Records re-encrypted per batch (1–10000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch_size: u64,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Held to the end of main, so every log line is written before the process exits.
    let _log_writer = match telemetry::init(cli.config.log_format) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("cannot start the log writer: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => app::run(config).await,
        Command::Migrate => {
            let catalog = app::load_catalog(&config)?;
            let db = db::connect(&devmode::database_url(&config)?, 1).await?;
            Migrator::up(&db, None)
                .await
                .context("database migrations failed")?;
            app::bind_legacy_secrets(&db, &catalog).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Token(args) => {
            let secret = match &config.jwt_hs256_secret {
                Some(secret) => secret.clone(),
                None => devmode::dev_jwt_secret(&config.data_dir)?,
            };
            let token = devmode::mint(
                &secret,
                &devmode::DevTokenRequest {
                    account: &args.account,
                    space: args.space.as_deref(),
                    scope: args.scope.as_deref(),
                    ttl_seconds: args.ttl_seconds,
                },
            )?;
            println!("{token}");
            Ok(())
        }
        Command::RotateKeys(args) => {
            let keys = devmode::resolve_keys(&config)?;
            let vault = Vault::from_keys(keys.vault_keys.expose_secret())?;
            let db = db::connect(&devmode::database_url(&config)?, 2).await?;
            Migrator::up(&db, None)
                .await
                .context("database migrations failed")?;
            let report = resolver::key_rotation::rotate(&db, &vault, args.batch_size.max(1))
                .await
                // The whole chain: an internal error's cause names the record to repair.
                .map_err(|e| anyhow::Error::new(e).context("rotation failed"))?;
            println!(
                "rotated {} record(s) to key {}; {} changed meanwhile and were left for the next run",
                report.records_rotated,
                vault.active_key_id(),
                report.records_skipped
            );
            if report.left.is_empty() {
                println!("nothing left under other keys");
            }
            for left in &report.left {
                println!(
                    "left under key {:?}: {} value(s) of {}",
                    left.key_id, left.count, left.column
                );
            }
            Ok(())
        }
    }
}
