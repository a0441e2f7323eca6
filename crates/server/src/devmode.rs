//! Zero-configuration dev mode (SPEC §9): an SQLite database and generated keys under
//! `DATA_DIR`, files readable by the owner only, and dev tokens for GraphiQL and the
//! `token` command. Refused with PostgreSQL, where keys must be given explicitly.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::Config;

/// The Space GraphiQL's dev token is for.
pub const DEV_SPACE: &str = "dev-space";
/// The account GraphiQL's dev token is for.
pub const DEV_ACCOUNT: &str = "dev-account";
const JWT_SECRET_FILE: &str = "dev-jwt-secret";
const VAULT_KEYS_FILE: &str = "vault-keys";
const SQLITE_FILE: &str = "spaces-oauth.db";
const GRAPHIQL_TOKEN_TTL_SECONDS: u64 = 3600;

/// The keys a process runs with, and whether they came from dev mode.
pub struct ResolvedKeys {
    pub hs256_secret: Option<SecretString>,
    pub vault_keys: SecretString,
    /// True when bearer tokens are checked with the generated dev secret.
    pub dev_jwt: bool,
}

/// Takes keys from the configuration, generating dev keys under `DATA_DIR` for SQLite.
pub fn resolve_keys(config: &Config) -> anyhow::Result<ResolvedKeys> {
    if config.uses_postgres() && (config.has_no_jwt_keys() || config.vault_keys.is_none()) {
        anyhow::bail!(
            "dev mode is refused with PostgreSQL: set VAULT_KEYS and one of JWT_HS256_SECRET, \
             JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL"
        );
    }
    let dev_jwt = config.has_no_jwt_keys();
    let hs256_secret = match &config.jwt_hs256_secret {
        Some(secret) => Some(secret.clone()),
        None if dev_jwt => Some(dev_jwt_secret(&config.data_dir)?),
        None => None,
    };
    let vault_keys = match &config.vault_keys {
        Some(keys) => keys.clone(),
        None => read_or_create(&config.data_dir, VAULT_KEYS_FILE, || {
            resolver::Vault::generate_key_entry("dev")
        })?,
    };
    Ok(ResolvedKeys {
        hs256_secret,
        vault_keys,
        dev_jwt,
    })
}

/// Dev mode hands out working tokens, so it listens on loopback only unless
/// `DEV_MODE_ALLOW_REMOTE` says otherwise.
pub fn check_bind_addr(config: &Config) -> anyhow::Result<()> {
    if config.bind_addr.ip().to_canonical().is_loopback() || config.dev_mode_allow_remote {
        return Ok(());
    }
    anyhow::bail!(
        "dev mode (no JWT key configured) listens on loopback only, and BIND_ADDR {} is not \
         a loopback address: configure VAULT_KEYS and JWT_HS256_SECRET, JWT_PUBLIC_KEY_FILE or \
         JWT_JWKS_URL, or set DEV_MODE_ALLOW_REMOTE=true",
        config.bind_addr
    )
}

/// True when GraphiQL may open with a dev token for this client: it connected over
/// loopback and not through a proxy (whose own address would be loopback).
pub fn may_prefill_token(client: Option<std::net::SocketAddr>, forwarded: bool) -> bool {
    !forwarded && client.is_some_and(|addr| addr.ip().to_canonical().is_loopback())
}

/// The HS256 secret of dev mode, generated on first use.
pub fn dev_jwt_secret(data_dir: &Path) -> anyhow::Result<SecretString> {
    read_or_create(data_dir, JWT_SECRET_FILE, || {
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    })
}

/// The database URL: the configured one, or an SQLite file under `DATA_DIR` (0600).
pub fn database_url(config: &Config) -> anyhow::Result<String> {
    if let Some(url) = &config.database_url {
        return Ok(url.clone());
    }
    create_private_dir(&config.data_dir)?;
    let path = config.data_dir.join(SQLITE_FILE);
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(format!("sqlite://{}", path.display()))
}

/// Claims of a token minted by `spaces-oauth token` or for GraphiQL.
pub struct DevTokenRequest<'a> {
    pub account: &'a str,
    pub space: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub ttl_seconds: u64,
}

/// Signs an HS256 bearer token with `secret`.
pub fn mint(secret: &SecretString, request: &DevTokenRequest<'_>) -> anyhow::Result<String> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": request.account,
        "accountId": request.account,
        "iat": now,
        "exp": now + i64::try_from(request.ttl_seconds).unwrap_or(i64::MAX / 2),
    });
    if let Some(space) = request.space {
        claims["spaces"] = json!([space]);
    }
    if let Some(scope) = request.scope {
        claims["scope"] = json!(scope);
    }
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes());
    Ok(encode(&Header::default(), &claims, &key)?)
}

/// Mints GraphiQL's token in dev mode.
pub struct DevTokens {
    secret: SecretString,
}

impl DevTokens {
    /// Tokens signed with the dev secret.
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    /// A fresh token for the dev account and Space.
    pub fn graphiql_token(&self) -> anyhow::Result<String> {
        mint(
            &self.secret,
            &DevTokenRequest {
                account: DEV_ACCOUNT,
                space: Some(DEV_SPACE),
                scope: None,
                ttl_seconds: GRAPHIQL_TOKEN_TTL_SECONDS,
            },
        )
    }
}

fn read_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> anyhow::Result<SecretString> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) => return Ok(SecretString::from(text.trim().to_owned())),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
        Err(_) => {}
    }
    create_private_dir(dir)?;
    let value = make();
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(value.as_bytes())?;
    tracing::info!(file = %path.display(), "generated a dev-mode key");
    Ok(SecretString::from(value))
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::may_prefill_token;

    #[test]
    fn only_a_direct_loopback_client_gets_a_prefilled_token() {
        let at = |addr: &str| Some(addr.parse().unwrap_or_else(|_| unreachable!()));
        assert!(may_prefill_token(at("127.0.0.1:5000"), false));
        assert!(may_prefill_token(at("[::1]:5000"), false));
        assert!(may_prefill_token(at("[::ffff:127.0.0.1]:5000"), false));
        assert!(
            !may_prefill_token(at("127.0.0.1:5000"), true),
            "through a proxy"
        );
        assert!(!may_prefill_token(at("10.0.0.7:5000"), false));
        assert!(!may_prefill_token(at("[2001:db8::1]:5000"), false));
        assert!(!may_prefill_token(at("[::ffff:192.0.2.1]:5000"), false));
        assert!(!may_prefill_token(None, false), "unknown address");
    }
}
