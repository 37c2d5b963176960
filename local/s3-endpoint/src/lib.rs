//! An embedded S3-compatible endpoint: [s3s] over [s3s_fs] storage, checking SigV4 as S3 does
//! (header-signed requests, presigned URLs, browser POST uploads with their policy), refusing
//! uploads over a size limit before reading them, answering CORS, and reporting every object
//! created in the notified buckets as an [`ObjectCreated`].

mod cors;
mod events;
mod form;
mod post_policy;
mod s3_error;
mod server;
mod sigv4;
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinHandle, JoinSet};

pub use events::ObjectCreated;

/// File (in the data directory) that keeps the last event sequencer across restarts.
const SEQUENCER_FILE: &str = ".s3-endpoint-sequencer";

/// How the endpoint is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Root of the object store: one directory per bucket.
    pub data_dir: PathBuf,
    /// The one access key accepted (SigV4).
    pub access_key: String,
    pub secret_key: String,
    /// Region that POST upload credentials must be scoped to, e.g. "us-east-1".
    pub region: String,
    /// Buckets created at start if missing.
    pub buckets: Vec<String>,
    /// Buckets whose created objects are reported as [`ObjectCreated`].
    pub notify_buckets: Vec<String>,
    /// Largest object a single request may upload (PUT, POST or one multipart part).
    pub max_upload_bytes: u64,
    /// Origins allowed by CORS; empty or `["*"]` allows any origin.
    pub allowed_origins: Vec<String>,
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read the listener address: {0}")]
    Listener(std::io::Error),
}

/// A running endpoint. It stops when dropped or by [`S3Endpoint::shutdown`].
pub struct S3Endpoint {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl S3Endpoint {
    /// Stops accepting, closes every open connection and waits until that is done.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for S3Endpoint {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts serving on `listener`; created objects in `config.notify_buckets` are sent to `events`.
pub async fn start(
    config: Config,
    listener: TcpListener,
    events: UnboundedSender<ObjectCreated>,
) -> Result<S3Endpoint, Error> {
    validate(&config)?;
    let data_dir = config.data_dir.clone();
    let io_error = |source| Error::DataDir { path: data_dir.clone(), source };
    for bucket in &config.buckets {
        std::fs::create_dir_all(data_dir.join(bucket)).map_err(io_error)?;
    }
    std::fs::create_dir_all(&data_dir).map_err(io_error)?;
    let fs = s3s_fs::FileSystem::new(&data_dir)
        .map_err(|err| Error::DataDir { path: data_dir.clone(), source: std::io::Error::other(format!("{err:?}")) })?;

    let sequencer = events::Sequencer::open(&data_dir.join(SEQUENCER_FILE));
    let notifier = events::Notifier::new(&config.notify_buckets, events, sequencer);
    let store = store::Store { fs, notifier, max_upload_bytes: config.max_upload_bytes };

    let mut s3_config = S3Config::default();
    s3_config.post_object_max_file_size = config.max_upload_bytes;
    s3_config.form_max_fields_size = usize::try_from(server::FORM_FIELDS_MAX).unwrap_or(usize::MAX);
    let mut builder = S3ServiceBuilder::new(store);
    builder.set_auth(SimpleAuth::from_single(config.access_key.clone(), config.secret_key.clone()));
    builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(s3_config))));

    let front_door = Arc::new(server::FrontDoor {
        s3: builder.build(),
        cors: cors::Cors::new(&config.allowed_origins),
        access_key: config.access_key,
        secret_key: config.secret_key,
        region: config.region,
        max_upload_bytes: config.max_upload_bytes,
    });

    let addr = listener.local_addr().map_err(Error::Listener)?;
    let task = tokio::spawn(serve(listener, front_door));
    Ok(S3Endpoint { url: format!("http://{addr}"), addr, task: Some(task) })
}

fn validate(config: &Config) -> Result<(), Error> {
    let bad = |what: String| Err(Error::Config(what));
    if config.access_key.is_empty() || config.secret_key.is_empty() {
        return bad("access_key and secret_key must not be empty".into());
    }
    if config.region.is_empty() {
        return bad("region must not be empty".into());
    }
    if config.max_upload_bytes == 0 {
        return bad("max_upload_bytes must be positive".into());
    }
    for bucket in config.buckets.iter().chain(&config.notify_buckets) {
        if !s3s::path::check_bucket_name(bucket) {
            return bad(format!("'{bucket}' is not a valid bucket name"));
        }
    }
    Ok(())
}

/// Accepts connections until aborted; aborting drops (and so aborts) every connection task.
async fn serve(listener: TcpListener, front_door: Arc<server::FrontDoor>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let front_door = front_door.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| {
                            let front_door = front_door.clone();
                            async move { front_door.handle(req).await }
                        });
                        if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                            tracing::debug!(error = %err, "S3 connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // e.g. out of file descriptors: back off instead of spinning
                    tracing::warn!(error = %err, "S3 endpoint cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
