//! The JWT verifier: which keys and algorithms are accepted, decided by configuration
//! and never by the token (SPEC §2).

use resolver::Code;
use std::str::FromStr;

use anyhow::Context as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::claims::VerifiedClaims;
use super::jwks::JwksCache;
use super::verified::VerifiedTokens;
use crate::config::Config;

/// Why a request was not authenticated. Messages are fixed text: never token content.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an Authorization: Bearer token is required")]
    Missing,
    #[error("the bearer token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the bearer token has expired")]
    Expired,
    #[error("the bearer token does not grant access to this Space")]
    Forbidden,
}

impl AuthError {
    /// The SPEC §7 code.
    pub fn code(&self) -> Code {
        match self {
            Self::Expired => Code::TokenExpired,
            _ => Code::Unauthorized,
        }
    }
}

/// Verifies bearer tokens against the configured keys.
pub struct JwtVerifier {
    hmac: Option<DecodingKey>,
    rsa: Vec<DecodingKey>,
    ec: Vec<DecodingKey>,
    jwks: Option<JwksCache>,
    algorithms: Vec<Algorithm>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    account_claim: String,
    /// Tokens that verified recently (at most 30 s, never past `exp`).
    verified: VerifiedTokens,
}

impl JwtVerifier {
    /// Builds the verifier; `hs256_secret` is the configured or dev-mode secret.
    pub fn from_config(
        config: &Config,
        hs256_secret: Option<&SecretString>,
    ) -> anyhow::Result<Self> {
        let hmac = hs256_secret.map(|s| DecodingKey::from_secret(s.expose_secret().as_bytes()));
        let (mut rsa, mut ec) = (Vec::new(), Vec::new());
        if let Some(path) = &config.jwt_public_key_file {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read JWT_PUBLIC_KEY_FILE {}", path.display()))?;
            for block in pem_blocks(&pem) {
                if let Ok(key) = DecodingKey::from_rsa_pem(block.as_bytes()) {
                    rsa.push(key);
                } else if let Ok(key) = DecodingKey::from_ec_pem(block.as_bytes()) {
                    ec.push(key);
                } else {
                    anyhow::bail!(
                        "JWT_PUBLIC_KEY_FILE holds a PEM block that is neither an RSA nor an EC public key"
                    );
                }
            }
            anyhow::ensure!(
                !rsa.is_empty() || !ec.is_empty(),
                "JWT_PUBLIC_KEY_FILE holds no PEM public key"
            );
        }
        let jwks = config
            .jwt_jwks_url
            .clone()
            .map(JwksCache::new)
            .transpose()?;
        let algorithms = if config.jwt_algorithms.is_empty() {
            let mut algs = Vec::new();
            if hmac.is_some() {
                algs.push(Algorithm::HS256);
            }
            if !rsa.is_empty() || jwks.is_some() {
                algs.push(Algorithm::RS256);
            }
            if !ec.is_empty() || jwks.is_some() {
                algs.push(Algorithm::ES256);
            }
            algs
        } else {
            config
                .jwt_algorithms
                .iter()
                .map(|name| {
                    Algorithm::from_str(name.trim()).map_err(|_| {
                        anyhow::anyhow!("JWT_ALGORITHMS names an unknown algorithm: {name}")
                    })
                })
                .collect::<anyhow::Result<_>>()?
        };
        anyhow::ensure!(!algorithms.is_empty(), "no JWT key is configured");
        Ok(Self {
            hmac,
            rsa,
            ec,
            jwks,
            algorithms,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            leeway: config.jwt_leeway_seconds.min(60),
            account_claim: config.jwt_account_claim.clone(),
            verified: VerifiedTokens::new(),
        })
    }

    /// Verifies `token` and reads its claims; a token that verified in the last 30 s
    /// (and has not expired) is answered from memory.
    pub async fn verify(&self, token: &str) -> Result<VerifiedClaims, AuthError> {
        if let Some(claims) = self.verified.get(token) {
            return Ok(claims);
        }
        let claims = self.verify_now(token).await?;
        self.verified.put(token, &claims);
        Ok(claims)
    }

    /// Verifies `token` in full: header, key, signature and claims.
    async fn verify_now(&self, token: &str) -> Result<VerifiedClaims, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Invalid("malformed token"))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(AuthError::Invalid("signing algorithm not accepted"));
        }
        let is_hmac = matches!(
            header.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        );
        let mut keys: Vec<DecodingKey> = match header.alg {
            _ if is_hmac => self.hmac.iter().cloned().collect(),
            Algorithm::ES256 | Algorithm::ES384 => self.ec.clone(),
            _ => self.rsa.clone(),
        };
        // JWKS keys are public keys: never consulted for HMAC tokens.
        if let (Some(jwks), false) = (&self.jwks, is_hmac)
            && let Some(key) = jwks.key(header.kid.as_deref().unwrap_or_default()).await
        {
            keys.insert(0, key);
        }
        let validation = self.validation(header.alg);
        let mut outcome = AuthError::Invalid("no configured key verifies the signature");
        for key in &keys {
            match decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => {
                    return VerifiedClaims::from_map(&data.claims, &self.account_claim);
                }
                Err(err) => match err.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidKeyFormat => continue,
                    ErrorKind::ExpiredSignature => return Err(AuthError::Expired),
                    ErrorKind::ImmatureSignature => {
                        outcome = AuthError::Invalid("token not yet valid")
                    }
                    ErrorKind::InvalidIssuer => outcome = AuthError::Invalid("wrong issuer"),
                    ErrorKind::InvalidAudience => outcome = AuthError::Invalid("wrong audience"),
                    ErrorKind::MissingRequiredClaim(_) => {
                        outcome = AuthError::Invalid("a required claim is missing")
                    }
                    _ => outcome = AuthError::Invalid("malformed token"),
                },
            }
            break;
        }
        Err(outcome)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
            None => validation.validate_aud = false,
        }
        validation
    }
}

/// Splits a PEM file into its `-----BEGIN …-----` … `-----END …-----` blocks.
fn pem_blocks(pem: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN") {
        let Some(end_marker) = rest[start..].find("-----END") else {
            break;
        };
        let after_end = start + end_marker;
        let Some(close) = rest[after_end + 8..].find("-----") else {
            break;
        };
        let end = after_end + 8 + close + 5;
        blocks.push(&rest[start..end]);
        rest = &rest[end..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::pem_blocks;

    #[test]
    fn pem_files_split_into_blocks() {
        let pem = "x\n-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n-----BEGIN PUBLIC KEY-----\nBBB\n-----END PUBLIC KEY-----\n";
        let blocks = pem_blocks(pem);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[1].contains("BBB") && blocks[1].ends_with("KEY-----"));
    }
}
