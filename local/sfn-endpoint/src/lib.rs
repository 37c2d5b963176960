//! The embedded Step Functions endpoint: the AWS JSON 1.0 protocol (`X-Amz-Target:
//! AWSStepFunctions.<Operation>`) over the local [`asl::Engine`], so the AWS CLI and SDKs list,
//! start, stop, describe and read the history of the stack's executions unchanged. Every
//! request's SigV4 is checked against the stack's credentials (service `states`); slow and
//! numerous clients are cut off by the same listener as the other endpoints; no CORS.
//!
//! Operations: ListStateMachines, DescribeStateMachine, StartExecution, StopExecution,
//! ListExecutions, DescribeExecution, GetExecutionHistory. Errors are AWS's:
//! `{"__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist", "message": ...}`,
//! `ValidationException` for a value outside the API's constraints, `InvalidToken` for a page
//! token this endpoint did not issue for the same request. Dates are epoch seconds.

mod arn;
mod error;
mod handler;
mod operations;
mod token;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use loopback_listener::ListenerLimits;

/// The role the local engine reports as `$$.Execution.RoleArn` (DescribeStateMachine's `roleArn`).
pub const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/imgpipe-local-stepfunctions";

/// How the endpoint is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The one access key accepted (SigV4).
    pub access_key: String,
    pub secret_key: String,
    /// Region requests must be signed for, e.g. "us-east-1".
    pub region: String,
    pub limits: ListenerLimits,
}

impl Config {
    /// A configuration with default listener limits.
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            limits: ListenerLimits::default(),
        }
    }
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("the listener must be bound to a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    #[error("cannot read the listener address: {0}")]
    Listener(std::io::Error),
}

/// A running endpoint. It stops when dropped, or gracefully by [`SfnEndpoint::shutdown`].
pub struct SfnEndpoint {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: watch::Sender<()>,
    task: Option<JoinHandle<()>>,
}

impl SfnEndpoint {
    /// Stops accepting, lets in-flight requests finish (a few seconds at most) and waits for that.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SfnEndpoint {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts serving the state machines and executions of `engine` on `listener`, which must be
/// bound to a loopback address.
pub async fn start(config: Config, listener: TcpListener, engine: Arc<asl::Engine>) -> Result<SfnEndpoint, Error> {
    if config.access_key.is_empty() || config.secret_key.is_empty() {
        return Err(Error::Config("access_key and secret_key must not be empty".into()));
    }
    if config.region.is_empty() {
        return Err(Error::Config("region must not be empty".into()));
    }
    let addr = listener.local_addr().map_err(Error::Listener)?;
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(addr));
    }
    let verifier = sigv4::Verifier::new(&config.access_key, &config.secret_key, &config.region, "states")
        .require_signed_header("x-amz-target");
    let handler = Arc::new(handler::Handler {
        api: operations::Api::new(engine),
        verifier,
        body_read_timeout: config.limits.body_read_timeout,
    });
    let (stop, stopped) = watch::channel(());
    let task = tokio::spawn(loopback_listener::serve(
        "Step Functions",
        listener,
        config.limits,
        Arc::new(move |req| handler.clone().handle(req)),
        stopped,
    ));
    Ok(SfnEndpoint { url: format!("http://{addr}"), addr, stop, task: Some(task) })
}
