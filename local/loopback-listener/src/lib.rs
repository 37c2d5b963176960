//! The accept loop of the embedded endpoints (S3, DynamoDB): HTTP/1.1 connections with a
//! header-read timeout and a cap on how many are open at once, stopped gracefully on a signal.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How long in-flight requests get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Limits that keep slow or numerous clients from holding the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// A connection that has not sent a whole request head within this time (including an idle
    /// keep-alive connection) is closed.
    pub header_read_timeout: Duration,
    /// A request body not fully received within this time is refused and its connection closed.
    pub body_read_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 128,
        }
    }
}

/// Why a connection is dropped without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped")]
pub struct Dropped;

/// Serves `listener` (for the endpoint called `name` in logs) until `stop` changes (or its sender is dropped), then lets in-flight
/// requests finish for a short grace period.
pub async fn serve<H, F, B>(
    name: &'static str,
    listener: TcpListener,
    limits: ListenerLimits,
    handler: Arc<H>,
    mut stop: watch::Receiver<()>,
) where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Response<B>, Dropped>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // e.g. out of file descriptors: back off instead of spinning
                    tracing::warn!(error = %err, "{name} endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let handler = handler.clone();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| handler(req));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(name, result),
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(name, connection.await);
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!("{name} endpoint: connections still open after the grace period are closed");
    }
}

fn log_end(name: &str, result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "{name} connection ended with an error");
    }
}
