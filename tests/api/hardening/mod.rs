//! Production hardening (SPEC §1, §7, §8, §9): GraphQL over HTTP, limits, the rate
//! limit, CORS, metrics and logs, persisted queries, shutdown, database outages,
//! malformed input, and the Node-driven audit and browser checks.

mod cluster;
mod connections;
mod cors;
mod fuzz;
mod graphiql;
mod graphql_over_http;
mod limits;
mod node;
mod observability;
mod outage;
mod rate_limit;
mod raw;
mod shutdown;
