//! The black-box API tests of spaces-oauth: the real router over HTTP on a real
//! database (SQLite and PostgreSQL), one database per test. This file only declares
//! modules; the harness is in `helpers/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod auth;
mod connection_test;
mod connector_details;
mod details_json;
mod events;
mod hardening;
mod idp_double;
mod lifecycle;
mod providers;
mod query_plans;
mod reads;
mod sample_request;
mod space_guid;
mod tokens;
mod transport;
mod validation;
mod vault;
