//! The HTTP/1.1 accept loop: hyper's connection builder with a time limit on reading a
//! request's headers and a cap on their size (SPEC §8: no input may hang a request or
//! hold a connection forever), the client's address for handlers, and a graceful stop.
//!
//! `axum::serve` exposes neither setting, so connections are served here with hyper
//! directly, as axum's own "serve with hyper" example does.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// hyper refuses a read buffer smaller than this (it would panic).
pub const MIN_HEADER_BYTES: usize = 8192;

/// How connections are read.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// A client that has not sent a request's complete headers by then is disconnected.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and headers); larger answers 431.
    pub max_header_bytes: usize,
}

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, asks
/// every open connection to finish its request in flight and close, and resolves once
/// they all have (the caller bounds that wait).
pub async fn serve_until(
    router: Router,
    listener: TcpListener,
    limits: &ConnectionLimits,
    stop: impl Future<Output = ()>,
) -> Drained {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let (stopping, stop_watch) = watch::channel(false);
    let mut stop = pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Responses go out as soon as they are written, not held back by Nagle's
        // algorithm waiting for an ACK of the previous segment.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
        }
        // The client's address reaches handlers as an `Extension<ClientAddr>`.
        let service = router.clone().layer(Extension(ConnectInfo(peer)));
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop_watch = stop_watch.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                // The guard `wait_for` yields is not `Send`: drop it before awaiting on.
                () = async { drop(stop_watch.wait_for(|stop| *stop).await) } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            // Dropped last: `Drained` waits for every connection's receiver.
            drop(stop_watch);
        });
    }
    drop(listener);
    drop(stop_watch);
    let _ = stopping.send(true);
    Drained(stopping)
}

/// Resolves when every connection open at the stop has closed.
pub struct Drained(watch::Sender<bool>);

impl Drained {
    /// Waits for the connections.
    pub async fn wait(self) {
        self.0.closed().await;
    }
}

/// The client's address, as the accept loop recorded it.
pub type ClientAddr = ConnectInfo<SocketAddr>;
