//! Test Connection (SPEC §12): `testIPackInstanceOauthConnection` checks a record's
//! settings, its client secret and its token, and calls its `testURL` with the token,
//! one step after another. It answers what each step found, never a token.

pub mod grant;
pub mod mutation;
pub mod service;
pub mod test_request;
pub mod types;
