//! Bearer tokens for tests: a builder for any claims, algorithm and key, the committed
//! test key pairs (`tests/api/fixtures/`), and hand-built `alg: none` tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

/// RSA private key (PKCS#8 PEM) whose public half is [`RSA_PUBLIC_PEM`].
pub const RSA_PRIVATE_PEM: &str = include_str!("../fixtures/rsa_private.pem");
/// RSA public key (SPKI PEM).
pub const RSA_PUBLIC_PEM: &str = include_str!("../fixtures/rsa_public.pem");
/// A second, unrelated RSA private key.
pub const RSA2_PRIVATE_PEM: &str = include_str!("../fixtures/rsa2_private.pem");
/// P-256 private key (PKCS#8 PEM) whose public half is [`EC_PUBLIC_PEM`].
pub const EC_PRIVATE_PEM: &str = include_str!("../fixtures/ec_private.pem");
/// P-256 public key (SPKI PEM).
pub const EC_PUBLIC_PEM: &str = include_str!("../fixtures/ec_public.pem");

/// The platform's bearer tokens live five minutes (seed 002).
pub const DEFAULT_TTL_SECONDS: i64 = 300;

/// The path of a file in `tests/api/fixtures/`, e.g. for `jwt_public_key_file`.
pub fn fixture_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/api/fixtures")
        .join(name)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[derive(Clone)]
enum Key {
    Hmac(Vec<u8>),
    Pem(Algorithm, String),
}

/// Builds a signed JWT. Starts as HS256 for `account` (both `accountId` and `sub`),
/// issued now, expiring in five minutes, with no `spaces` claim.
#[derive(Clone)]
pub struct TokenBuilder {
    header: Header,
    claims: Map<String, Value>,
    key: Key,
}

impl TokenBuilder {
    /// A token for `account`, signed with the HS256 `secret`.
    pub fn new(account: &str, hs256_secret: &str) -> Self {
        let now = now();
        let claims = json!({
            "accountId": account,
            "sub": account,
            "iat": now,
            "exp": now + DEFAULT_TTL_SECONDS,
        });
        let Value::Object(claims) = claims else {
            unreachable!()
        };
        Self {
            header: Header::new(Algorithm::HS256),
            claims,
            key: Key::Hmac(hs256_secret.as_bytes().to_vec()),
        }
    }

    /// Signs with the HS256 `secret` instead.
    pub fn hs256(mut self, secret: &str) -> Self {
        self.header.alg = Algorithm::HS256;
        self.key = Key::Hmac(secret.as_bytes().to_vec());
        self
    }

    /// Signs with `alg` and a PEM private key (RSA or EC, PKCS#8).
    pub fn pem(mut self, alg: Algorithm, private_pem: &str) -> Self {
        self.header.alg = alg;
        self.key = Key::Pem(alg, private_pem.to_owned());
        self
    }

    /// RS256 with the fixture RSA key.
    pub fn rs256(self) -> Self {
        self.pem(Algorithm::RS256, RSA_PRIVATE_PEM)
    }

    /// ES256 with the fixture P-256 key.
    pub fn es256(self) -> Self {
        self.pem(Algorithm::ES256, EC_PRIVATE_PEM)
    }

    /// Overrides the header's `alg`, keeping the key (e.g. HS384 with the HS256 secret).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.header.alg = alg;
        self
    }

    /// Sets the header's `kid`.
    pub fn kid(mut self, kid: &str) -> Self {
        self.header.kid = Some(kid.to_owned());
        self
    }

    /// Limits the token to one Space (`spaces: [space]`).
    pub fn space(self, space: &str) -> Self {
        self.claim("spaces", json!([space]))
    }

    /// Sets the `spaces` claim.
    pub fn spaces(self, spaces: &[&str]) -> Self {
        self.claim("spaces", json!(spaces))
    }

    /// `exp` = now + `seconds` (negative: already expired).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", json!(now() + seconds))
    }

    /// `nbf` = now + `seconds`.
    pub fn not_before_in(self, seconds: i64) -> Self {
        self.claim("nbf", json!(now() + seconds))
    }

    /// Sets `iss`.
    pub fn issuer(self, iss: &str) -> Self {
        self.claim("iss", json!(iss))
    }

    /// Sets `aud`.
    pub fn audience(self, aud: &str) -> Self {
        self.claim("aud", json!(aud))
    }

    /// Sets `scope` (space-separated, as in OAuth).
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", json!(scope))
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// The signed token.
    pub fn sign(&self) -> String {
        let key = match &self.key {
            Key::Hmac(secret) => EncodingKey::from_secret(secret),
            Key::Pem(Algorithm::ES256 | Algorithm::ES384, pem) => {
                EncodingKey::from_ec_pem(pem.as_bytes()).expect("bad EC PEM")
            }
            Key::Pem(_, pem) => EncodingKey::from_rsa_pem(pem.as_bytes()).expect("bad RSA PEM"),
        };
        jsonwebtoken::encode(&self.header, &self.claims, &key).expect("cannot sign the token")
    }

    /// The same claims in an unsigned `alg: none` token (empty signature), hand-built
    /// because no library will make one.
    pub fn unsigned_alg_none(&self) -> String {
        let header = json!({ "alg": "none", "typ": "JWT" });
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(self.claims.clone()).to_string())
        )
    }
}

/// The public JWK of a private PEM key, with `kid` and `alg` set (for a JWKS double).
pub fn public_jwk(alg: Algorithm, private_pem: &str, kid: &str) -> Value {
    let key = match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(private_pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(private_pem.as_bytes()),
    }
    .expect("bad PEM");
    let mut jwk = Jwk::from_encoding_key(&key, alg).expect("cannot build the JWK");
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).expect("JWK serializes")
}
