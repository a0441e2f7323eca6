//! What identity providers send and expect (SPEC §11): token answers read as providers
//! really send them, provider values, the details switches and effective settings,
//! the provider catalog, placeholders and discovery. Pure logic: no database, no
//! GraphQL, no HTTP server; the resolver brings the guarded outbound client.
//!
//! # Decisions
//!
//! **Token answers are parsed here, not by the `oauth2` crate.** A custom
//! `TokenResponse` type was considered and rejected: the crate hands a custom type only
//! the body of a 2xx answer, refuses any answer whose `Content-Type` is not JSON before
//! the type sees it, and reduces a non-2xx answer to its parsed error body, so the
//! HTTP status and `Retry-After` that SPEC §10 classifies by are lost. Instead the
//! request side stays on the crate (grant parameters, PKCE, client authentication):
//! [`exchange::Capture`] wraps the guarded transport, returns the raw answer out of
//! the crate's flow, and [`parse_token_answer`] reads status, headers and body. The
//! RFC 7523 request, built by hand, feeds its answer to the same parser.
//!
//! **Failure classes** ([`FailureClass`]): `invalid_grant`, `invalid_client`,
//! `unauthorized_client` are terminal; 5xx, 429 (with `Retry-After` as seconds or an
//! HTTP-date, capped at a day), `temporarily_unavailable`/`server_error`, an
//! unreadable 2xx answer and transport failures are transient; any other `error` is
//! rejected, and so is a 4xx without a readable `error` (retrying cannot change it).
//!
//! **Tolerance**: `expires_in` as a number, numeric string or float; a negative or
//! non-numeric one counts as absent (then `tokenLifetimeSeconds` applies), a huge one
//! is cut to ten years. `token_type` is kept as sent but must be visible ASCII of at
//! most 64 characters (it goes into an `Authorization` header). A form-encoded answer
//! (some older IdPs) is read like a JSON one.
//!
//! **Catalog**: one TOML file compiled in (`catalog/providers.toml`); `PROVIDERS_FILE`
//! in the same format adds entries, and an operator entry with a shipped name replaces
//! that entry. Names are matched exactly. Unknown keys, a bad value or a duplicate
//! name stop the load with the file's line and the entry's name.
//!
//! **Precedence**: a record's own details win; then its discovery document (when
//! `discoveryURL` is set); then the catalog entry. `{name}` placeholders are filled in
//! every effective URL (details' own URLs too) from the details' string value of that
//! name, which may only hold letters, digits, `.`, `-` and `_`, so it cannot move the
//! URL to another host or path.

pub mod answer;
pub mod catalog;
pub mod discovery;
pub mod exchange;
pub mod failure;
pub mod placeholders;
pub mod secret_names;
pub mod settings;
pub mod values;

pub use answer::{TokenAnswer, parse_token_answer, parse_token_parts};
pub use catalog::{Catalog, CatalogError, GrantType, Provider};
pub use discovery::{DiscoveryCache, DiscoveryError, Metadata};
pub use exchange::{Capture, Exchange};
pub use failure::{FailureClass, IdpFailure};
pub use settings::{
    AuthScheme, DetailsError, EffectiveSettings, TokenRequestFormat, effective, validate_switches,
};
pub use values::ProviderValues;
