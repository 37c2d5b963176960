//! The embedded DynamoDB endpoint: dynoxide (a DynamoDB engine on SQLite) served on a listener
//! this crate owns, where every request's SigV4 is checked against the stack's credentials
//! (service `dynamodb`), slow and numerous clients are cut off, no CORS is ever answered, expired
//! TTL items are swept, and a [`FaultPlan`] can make a share of requests fail as DynamoDB does
//! under stress.

mod auth;
mod dispatch;
mod faults;
mod handler;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{FaultCounts, FaultKind, FaultPlan, FaultPlanError};
pub use loopback_listener::ListenerLimits;

/// How the endpoint is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite file dynoxide keeps the tables in; `None` keeps them in memory.
    pub db_path: Option<PathBuf>,
    /// The one access key accepted (SigV4).
    pub access_key: String,
    pub secret_key: String,
    /// Region requests must be signed for, e.g. "us-east-1".
    pub region: String,
    pub limits: ListenerLimits,
    pub faults: FaultPlan,
    /// How often items whose TTL attribute has passed are deleted (DynamoDB does it in the
    /// background too); `None` never sweeps.
    pub ttl_sweep_interval: Option<Duration>,
}

impl Config {
    /// A configuration with default limits, no faults and a TTL sweep every minute.
    pub fn new(db_path: Option<PathBuf>, access_key: &str, secret_key: &str, region: &str) -> Self {
        Self {
            db_path,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            limits: ListenerLimits::default(),
            faults: FaultPlan::none(),
            ttl_sweep_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot open the DynamoDB store {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("the listener must be bound to a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot read the listener address: {0}")]
    Listener(std::io::Error),
}

/// A running endpoint. It stops when dropped, or gracefully by [`DynamoEndpoint::shutdown`].
pub struct DynamoEndpoint {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    handler: Arc<handler::Handler>,
    stop: watch::Sender<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl DynamoEndpoint {
    /// Faults injected so far, by kind.
    pub fn faults_injected(&self) -> FaultCounts {
        FaultCounts::of(&self.handler.faults)
    }

    /// Stops accepting, lets in-flight requests finish (a few seconds at most) and waits for that.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for DynamoEndpoint {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts serving on `listener`, which must be bound to a loopback address.
pub async fn start(config: Config, listener: TcpListener) -> Result<DynamoEndpoint, Error> {
    validate(&config)?;
    let addr = listener.local_addr().map_err(Error::Listener)?;
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(addr));
    }
    let db = open(config.db_path.as_ref())?;
    let verifier = sigv4::Verifier::new(&config.access_key, &config.secret_key, &config.region, "dynamodb")
        .require_signed_header("x-amz-target");
    let handler = Arc::new(handler::Handler {
        db: db.clone(),
        verifier,
        faults: faults::Faults::new(config.faults),
        region: config.region,
        body_read_timeout: config.limits.body_read_timeout,
    });
    let (stop, stopped) = watch::channel(());
    let serving = handler.clone();
    let mut tasks = vec![tokio::spawn(loopback_listener::serve(
        "DynamoDB",
        listener,
        config.limits,
        Arc::new(move |req| serving.clone().handle(req)),
        stopped.clone(),
    ))];
    if let Some(interval) = config.ttl_sweep_interval {
        tasks.push(tokio::spawn(sweep_ttl(db, interval, stopped)));
    }
    Ok(DynamoEndpoint { url: format!("http://{addr}"), addr, handler, stop, tasks })
}

fn validate(config: &Config) -> Result<(), Error> {
    if config.access_key.is_empty() || config.secret_key.is_empty() {
        return Err(Error::Config("access_key and secret_key must not be empty".into()));
    }
    if config.region.is_empty() {
        return Err(Error::Config("region must not be empty".into()));
    }
    if config.limits.max_connections == 0 {
        return Err(Error::Config("limits.max_connections must be positive".into()));
    }
    if config.ttl_sweep_interval.is_some_and(|i| i.is_zero()) {
        return Err(Error::Config("ttl_sweep_interval must be positive".into()));
    }
    Ok(())
}

fn open(path: Option<&PathBuf>) -> Result<dynoxide::Database, Error> {
    let Some(path) = path else {
        return dynoxide::Database::memory()
            .map_err(|e| Error::Store { path: PathBuf::from(":memory:"), message: e.to_string() });
    };
    let store_error = |message: String| Error::Store { path: path.clone(), message };
    let text = path.to_str().ok_or_else(|| store_error("the path is not valid UTF-8".into()))?;
    dynoxide::Database::new(text).map_err(|e| store_error(e.to_string()))
}

async fn sweep_ttl(db: dynoxide::Database, interval: Duration, mut stop: watch::Receiver<()>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.sweep_ttl()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(swept)) => tracing::debug!(swept, "DynamoDB TTL sweep deleted expired items"),
            Ok(Err(err)) => tracing::warn!(error = %err, "DynamoDB TTL sweep failed"),
            Err(err) => tracing::warn!(error = %err, "DynamoDB TTL sweep task failed"),
        }
    }
}
