//! The `spaces-oauth` server: configuration, HTTP (GraphQL, GraphiQL, health), bearer
//! authentication, dev mode and start-up. The GraphQL schema itself is the `resolver`
//! crate's.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod devmode;
pub mod http;
pub mod listen;
pub mod state;
pub mod telemetry;
pub mod webhooks;

pub use app::{App, build, serve};
pub use config::Config;
