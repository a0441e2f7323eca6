//! Configuration (SPEC §9): one struct, read from flags and environment variables by
//! `clap`, or built in code by tests. `--help` lists every variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;

const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
const DEFAULT_DATA_DIR: &str = "./data";
const DEFAULT_ACCOUNT_CLAIM: &str = "accountId";

/// Every setting of a `spaces-oauth` process.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Listen address.
    #[arg(long, env = "BIND_ADDR", default_value = DEFAULT_BIND_ADDR)]
    pub bind_addr: SocketAddr,

    /// Let dev mode (generated keys) listen on a non-loopback BIND_ADDR. GraphiQL still
    /// pre-fills its dev token for loopback clients only.
    #[arg(long, env = "DEV_MODE_ALLOW_REMOTE", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub dev_mode_allow_remote: bool,

    /// `sqlite://…` or `postgres://…`; default an SQLite file under DATA_DIR.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Directory for dev-mode files (SQLite database, generated keys).
    #[arg(long, env = "DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Shared secret for HS256 bearer tokens.
    #[arg(long, env = "JWT_HS256_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub jwt_hs256_secret: Option<SecretString>,

    /// PEM file with the RS256/ES256 public key(s) of bearer tokens.
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// JWKS endpoint for bearer-token keys (cached; refetched on an unknown `kid`).
    #[arg(long, env = "JWT_JWKS_URL")]
    pub jwt_jwks_url: Option<String>,

    /// Accepted algorithms, comma-separated; default: those of the configured keys.
    #[arg(long, env = "JWT_ALGORITHMS", value_delimiter = ',')]
    pub jwt_algorithms: Vec<String>,

    /// Required `iss` of bearer tokens.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` of bearer tokens.
    #[arg(long, env = "JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// The claim naming the caller's account (falls back to `sub`).
    #[arg(long, env = "JWT_ACCOUNT_CLAIM", default_value = DEFAULT_ACCOUNT_CLAIM)]
    pub jwt_account_claim: String,

    /// Clock leeway for `exp`/`nbf`, in seconds (at most 60).
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=60))]
    pub jwt_leeway_seconds: u64,

    /// Vault keys: comma-separated `keyid:base64-32-bytes`; the first is active.
    #[arg(long, env = "VAULT_KEYS", hide_env_values = true, value_parser = parse_secret)]
    pub vault_keys: Option<SecretString>,

    /// External base URL, used to build the OAuth `redirect_uri`.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,

    /// Origins allowed by CORS, comma-separated.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub cors_allowed_origins: Vec<String>,

    /// Origins of the Space UIs the OAuth callback page posts its result to,
    /// comma-separated; default those of CORS_ALLOWED_ORIGINS (never `*`).
    #[arg(long, env = "SPACE_UI_ORIGINS", value_delimiter = ',')]
    pub space_ui_origins: Vec<String>,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Requests per second per account (token bucket); 0 disables the limit.
    #[arg(long, env = "RATE_LIMIT_RPS", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_limit_rps: u32,

    /// Burst size of the per-account token bucket.
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub rate_limit_burst: u32,

    /// OAuth callbacks per second per client address (token bucket, checked before the
    /// database is touched); 0 disables the limit.
    #[arg(long, env = "CALLBACK_RATE_LIMIT_RPS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub callback_rate_limit_rps: u32,

    /// Burst size of the per-address callback bucket.
    #[arg(long, env = "CALLBACK_RATE_LIMIT_BURST", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub callback_rate_limit_burst: u32,

    /// IdP hosts allowed over plain http, comma-separated.
    #[arg(long, env = "IDP_ALLOW_HTTP", value_delimiter = ',')]
    pub idp_allow_http: Vec<String>,

    /// Allow-list of IdP hosts, comma-separated; empty allows any public host.
    #[arg(long, env = "IDP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub idp_allowed_hosts: Vec<String>,

    /// An operator's TOML file of further identity providers, in the format of the
    /// shipped catalog (README "Provider catalog"); a bad file stops the start.
    #[arg(long, env = "PROVIDERS_FILE")]
    pub providers_file: Option<PathBuf>,
    /// HTTP(S) proxy for IdP calls; every IdP host must then be in IDP_ALLOWED_HOSTS.
    /// HTTP_PROXY/HTTPS_PROXY of the environment are never used.
    #[arg(long, env = "IDP_PROXY_URL")]
    pub idp_proxy_url: Option<String>,

    /// Largest IdP response read, in bytes.
    #[arg(long, env = "IDP_MAX_RESPONSE_BYTES", default_value_t = 256 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=16 * 1024 * 1024))]
    pub idp_max_response_bytes: usize,

    /// Seconds between background token-refresh sweeps (fractions allowed).
    #[arg(long, env = "REFRESH_INTERVAL_SECONDS", default_value_t = 30.0, value_parser = parse_refresh_interval)]
    pub refresh_interval_seconds: f64,

    /// The background refresher renews tokens expiring within this many seconds.
    #[arg(long, env = "REFRESH_AHEAD_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub refresh_ahead_seconds: u64,

    /// Background refreshes in flight at once on this replica (SPEC §10); one tenant
    /// gets at most half of them, so another tenant's refresh always finds a free slot.
    #[arg(long, env = "REFRESH_CONCURRENCY", default_value_t = 8)]
    pub refresh_concurrency: usize,

    /// This replica's name in refresh leases (diagnostics); default host name and pid.
    /// 1–64 characters of `A-Z a-z 0-9 . _ -`.
    #[arg(long, env = "REPLICA_ID", value_parser = parse_replica_id)]
    pub replica_id: Option<String>,

    /// Webhook URLs that receive connection events, comma-separated (SPEC §12).
    #[arg(long, env = "WEBHOOK_URLS", value_delimiter = ',')]
    pub webhook_urls: Vec<String>,

    /// Webhook signing secret: `whsec_` followed by base64 of the key bytes (SPEC §12).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub webhook_secret: Option<SecretString>,

    /// Seconds between looks for due webhook deliveries (fractions allowed); new events
    /// are delivered at once regardless.
    #[arg(long, env = "WEBHOOK_POLL_INTERVAL_SECONDS", default_value_t = 1.0)]
    pub webhook_poll_interval_seconds: f64,

    /// Multiplies every webhook retry delay (tests shrink the 27-hour schedule).
    #[arg(long, env = "WEBHOOK_RETRY_SCALE", default_value_t = 1.0, hide = true)]
    pub webhook_retry_scale: f64,

    /// Open subscription WebSockets one account may hold.
    #[arg(long, env = "WS_MAX_SOCKETS_PER_ACCOUNT", default_value_t = 16)]
    pub ws_max_sockets_per_account: usize,

    /// Live subscriptions one account may hold, over all its sockets.
    #[arg(long, env = "WS_MAX_SUBSCRIPTIONS_PER_ACCOUNT", default_value_t = 64)]
    pub ws_max_subscriptions_per_account: usize,

    #[command(flatten)]
    pub limits: Limits,

    /// Largest database connection pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Save statements in flight at once on PostgreSQL (SQLite: always one). Saves that
    /// arrive while all are busy are written together by the next free one, so fewer
    /// writers mean bigger batches and fewer commits; one was fastest at 16 and 64
    /// concurrent saves (BENCHMARKS.md, change 11).
    #[arg(long, env = "DB_SAVE_WRITERS", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub db_save_writers: u32,

    /// Readers of records by key on PostgreSQL (the read-back and the runtime's token
    /// read; SQLite reads on the pool). Each holds a pooled connection while reads keep
    /// coming, and reads that arrive while all are busy are read together by the next
    /// free one (README "Reads"). At most half of `DB_MAX_CONNECTIONS`; 0 reads on the pool.
    #[arg(long, env = "DB_READERS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=64))]
    pub db_readers: u32,

    /// How long a request waits for a database connection before answering
    /// `DATABASE_UNAVAILABLE`, in seconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECONDS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub db_acquire_timeout_seconds: u64,

    /// After SIGTERM/SIGINT, how long in-flight requests may still run, in seconds.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_grace_seconds: u64,
}

/// Request limits (SPEC §8).
#[derive(Args, Clone, Debug)]
pub struct Limits {
    /// Largest request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 256 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1024..=64 * 1024 * 1024))]
    pub max_body_bytes: usize,

    /// Deepest query accepted.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 16, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub max_query_depth: usize,

    /// Most complex query accepted.
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 1000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_query_complexity: usize,

    /// Most operations in one batch.
    #[arg(long, env = "MAX_BATCH_OPERATIONS", default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub max_batch_operations: usize,

    /// Most root fields (aliases count) in one operation; each costs one rate-limit token.
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=500))]
    pub max_root_fields: usize,

    /// Most connector records one tenant (Space and account) may hold; a save that
    /// would create one more answers QUOTA_EXCEEDED.
    #[arg(long, env = "MAX_RECORDS_PER_TENANT", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_records_per_tenant: u64,

    /// Longest a request may take, in seconds.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,

    /// Longest a client may take to send a request's headers, in seconds; then the
    /// connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_seconds: u64,

    /// Largest request head (request line and headers), in bytes; larger answers 431.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 32 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(8192..=1024 * 1024))]
    pub max_header_bytes: usize,

    /// Longest a call to an identity provider may take, in seconds.
    #[arg(long, env = "IDP_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub idp_timeout_seconds: u64,

    /// Queries kept by automatic persisted queries (Apollo APQ); 0 disables APQ.
    #[arg(long, env = "APQ_CACHE_SIZE", default_value_t = 1000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1_000_000))]
    pub apq_cache_size: usize,

    /// Bytes of query text kept by automatic persisted queries, at most.
    #[arg(long, env = "APQ_CACHE_BYTES", default_value_t = 4 * 1024 * 1024, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024 * 1024 * 1024))]
    pub apq_cache_bytes: usize,

    /// Parsed GraphQL documents kept by query text (up to 4 KiB each), so a document
    /// sent again with other variables is not parsed again; 0 disables the cache.
    #[arg(long, env = "PARSED_QUERY_CACHE_SIZE", default_value_t = 256, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=100_000))]
    pub parsed_query_cache_size: usize,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    /// The zero-configuration settings: dev mode under `./data`.
    fn default() -> Self {
        Self {
            bind_addr: DEFAULT_BIND_ADDR
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            dev_mode_allow_remote: false,
            database_url: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            jwt_hs256_secret: None,
            jwt_public_key_file: None,
            jwt_jwks_url: None,
            jwt_algorithms: Vec::new(),
            jwt_issuer: None,
            jwt_audience: None,
            jwt_account_claim: DEFAULT_ACCOUNT_CLAIM.to_owned(),
            jwt_leeway_seconds: 30,
            vault_keys: None,
            public_base_url: None,
            cors_allowed_origins: Vec::new(),
            space_ui_origins: Vec::new(),
            log_format: LogFormat::Pretty,
            rate_limit_rps: 50,
            rate_limit_burst: 100,
            callback_rate_limit_rps: 2,
            callback_rate_limit_burst: 20,
            idp_allow_http: Vec::new(),
            idp_allowed_hosts: Vec::new(),
            providers_file: None,
            idp_proxy_url: None,
            idp_max_response_bytes: 256 * 1024,
            refresh_interval_seconds: 30.0,
            refresh_ahead_seconds: 300,
            refresh_concurrency: 8,
            replica_id: None,
            webhook_urls: Vec::new(),
            webhook_secret: None,
            webhook_poll_interval_seconds: 1.0,
            webhook_retry_scale: 1.0,
            ws_max_sockets_per_account: 16,
            ws_max_subscriptions_per_account: 64,
            limits: Limits::default(),
            db_max_connections: 10,
            db_save_writers: 1,
            db_readers: 2,
            db_acquire_timeout_seconds: 3,
            shutdown_grace_seconds: 20,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 256 * 1024,
            max_query_depth: 16,
            max_query_complexity: 1000,
            max_batch_operations: 10,
            max_root_fields: 20,
            max_records_per_tenant: 10_000,
            request_timeout_seconds: 15,
            header_read_timeout_seconds: 10,
            max_header_bytes: 32 * 1024,
            idp_timeout_seconds: 10,
            apq_cache_size: 1000,
            apq_cache_bytes: 4 * 1024 * 1024,
            parsed_query_cache_size: 256,
        }
    }
}

impl Limits {
    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }
}

impl Config {
    /// The shutdown grace period as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }

    /// The database acquire timeout as a duration.
    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_seconds)
    }
}

impl Config {
    /// True when the database is PostgreSQL, where dev-mode key generation is refused.
    pub fn uses_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
    }

    /// The external base URL callback URLs are built from: `PUBLIC_BASE_URL`, else the
    /// listen address over http.
    pub fn public_base_url(&self) -> String {
        match &self.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind_addr),
        }
    }

    /// The time between refresh sweeps, at least 10 ms.
    pub fn refresh_interval(&self) -> Duration {
        Duration::try_from_secs_f64(self.refresh_interval_seconds)
            .unwrap_or(Duration::from_secs(30))
            .max(Duration::from_millis(10))
    }

    /// True when no bearer-token key source is configured.
    pub fn has_no_jwt_keys(&self) -> bool {
        self.jwt_hs256_secret.is_none()
            && self.jwt_public_key_file.is_none()
            && self.jwt_jwks_url.is_none()
    }
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

/// 0.01–86,400 seconds.
fn parse_refresh_interval(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(seconds) if (0.01..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err("not a number of seconds in 0.01..=86400".to_owned()),
    }
}

/// The longest `REPLICA_ID`: it is stored in the lease column with room to spare.
pub const MAX_REPLICA_ID_CHARS: usize = 64;

/// 1–64 characters of `A-Z a-z 0-9 . _ -`.
fn parse_replica_id(value: &str) -> Result<String, String> {
    let valid = (1..=MAX_REPLICA_ID_CHARS).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "1 to {MAX_REPLICA_ID_CHARS} characters of A-Z a-z 0-9 . _ -"
        ))
    }
}
