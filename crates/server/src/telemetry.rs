//! Logging through `tracing`: human-readable or JSON lines (`LOG_FORMAT`), filtered by
//! `RUST_LOG` (default `info`, with the database drivers quieter).

use std::io::IsTerminal as _;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber, writing to stderr from a thread of its own
/// (`tracing-appender`'s non-blocking writer): a request's log line is formatted on its
/// worker, but the write (which can stall on a slow disk or pipe) does not block the
/// async runtime. Lossless: when the queue is full a worker waits rather than dropping
/// a line. Keep the returned guard alive until exit: dropping it writes what is still
/// waiting.
pub fn init(format: LogFormat) -> std::io::Result<WorkerGuard> {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("spaces-oauth-log")
        .finish(std::io::stderr());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        // Colours only on a terminal: piped into a file or a log shipper they are noise.
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    Ok(guard)
}
