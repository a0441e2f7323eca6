//! The database's clock in SQL (SPEC §10): lease expiries and the refresher's "now" are
//! computed by the database, so replicas whose clocks disagree still agree on who holds
//! a lease. A leaf module.
//!
//! On SQLite timestamps are RFC 3339 text (`2026-12-02T09:00:00.123456+00:00`, as sqlx
//! writes them); the clock is formatted the same way, so text comparison orders them.

use std::time::Duration;

use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, SimpleExpr};

/// The database's current time.
pub fn now(backend: DbBackend) -> SimpleExpr {
    Expr::cust(now_sql(backend, Duration::ZERO))
}

/// The database's current time plus `offset`.
pub fn now_plus(backend: DbBackend, offset: Duration) -> SimpleExpr {
    Expr::cust(now_sql(backend, offset))
}

/// The SQL text of `now() + offset`. Only our own integer goes into it, never input.
pub fn now_sql(backend: DbBackend, offset: Duration) -> String {
    let millis = offset.as_millis().min(u128::from(u32::MAX));
    match backend {
        DbBackend::Sqlite => {
            let seconds = format!("{}.{:03}", millis / 1000, millis % 1000);
            format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+{seconds} seconds')")
        }
        _ => format!("(CURRENT_TIMESTAMP + INTERVAL '{millis} milliseconds')"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_written_in_milliseconds() {
        assert_eq!(
            now_sql(DbBackend::Postgres, Duration::from_millis(30_250)),
            "(CURRENT_TIMESTAMP + INTERVAL '30250 milliseconds')"
        );
        assert_eq!(
            now_sql(DbBackend::Sqlite, Duration::from_millis(30_050)),
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '+30.050 seconds')"
        );
    }
}
