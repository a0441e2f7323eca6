//! Bearer-token authentication (SPEC §2): JWT verification with keys and algorithms
//! pinned by configuration, and the claims the service reads.

mod claims;
mod jwks;
mod keys;
mod verified;

pub use claims::VerifiedClaims;
pub use keys::{AuthError, JwtVerifier};
