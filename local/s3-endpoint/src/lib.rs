//! An embedded S3-compatible endpoint: [s3s] over [s3s_fs] storage, checking SigV4 as S3 does
//! (header-signed requests, presigned URLs, browser POST uploads with their policy), storing every
//! key as an opaque string inside its bucket, refusing uploads over a size limit before reading
//! them, answering CORS for the configured origins only, cutting off slow clients, optionally
//! injecting the faults S3 shows under stress, keeping every version written to the versioned
//! buckets, and reporting every object created in the notified buckets as an [`ObjectCreated`].

mod cors;
mod events;
mod faults;
mod form;
mod keys;
mod post_policy;
mod s3_error;
mod server;
mod store;
mod versions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use s3s::auth::SimpleAuth;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use events::ObjectCreated;
pub use faults::{FaultCounts, FaultKind, FaultPlan, FaultPlanError};
pub use loopback_listener::ListenerLimits;

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
    /// Buckets that keep object versions, as S3 with versioning enabled: every write gets a
    /// version id (`x-amz-version-id`, and [`ObjectCreated::version_id`]) and reads can name it.
    /// Deleting a key without a version id removes all its versions (no delete markers).
    pub versioned_buckets: Vec<String>,
    /// Largest object a single request may upload (PUT, POST or one multipart part).
    pub max_upload_bytes: u64,
    /// Origins allowed by CORS (exact match, e.g. `http://127.0.0.1:8080`), for the upload page's
    /// POST and GET. Empty: no CORS at all. `*` is not special.
    pub allowed_origins: Vec<String>,
}

/// Settings with defaults, kept apart from [`Config`] so existing callers keep compiling.
#[derive(Debug, Clone)]
pub struct Options {
    pub limits: ListenerLimits,
    pub faults: FaultPlan,
}

impl Default for Options {
    /// The listener's defaults, but a minute for a browser POST form (uploads of up to 15 MiB).
    fn default() -> Self {
        let limits =
            ListenerLimits { body_read_timeout: std::time::Duration::from_secs(60), ..ListenerLimits::default() };
        Options { limits, faults: FaultPlan::default() }
    }
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
    #[error("the listener must be bound to a loopback address, not {0}")]
    NotLoopback(SocketAddr),
}

/// A running endpoint. It stops when dropped, or gracefully by [`S3Endpoint::shutdown`].
pub struct S3Endpoint {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    front_door: Arc<server::FrontDoor>,
    stop: watch::Sender<()>,
    task: Option<JoinHandle<()>>,
}

impl S3Endpoint {
    /// Faults injected so far, by kind.
    pub fn faults_injected(&self) -> FaultCounts {
        FaultCounts::of(&self.front_door.faults)
    }

    /// Stops accepting, lets in-flight requests finish (a few seconds at most) and waits for that.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(());
        if let Some(task) = self.task.take() {
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

/// Starts serving on `listener` with default [`Options`]; created objects in
/// `config.notify_buckets` are sent to `events`.
pub async fn start(
    config: Config,
    listener: TcpListener,
    events: UnboundedSender<ObjectCreated>,
) -> Result<S3Endpoint, Error> {
    start_with_options(config, Options::default(), listener, events).await
}

/// Starts serving on `listener` (bound to a loopback address) with `options`.
pub async fn start_with_options(
    config: Config,
    options: Options,
    listener: TcpListener,
    events: UnboundedSender<ObjectCreated>,
) -> Result<S3Endpoint, Error> {
    validate(&config)?;
    if options.limits.max_connections == 0 {
        return Err(Error::Config("limits.max_connections must be positive".into()));
    }
    let addr = listener.local_addr().map_err(Error::Listener)?;
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(addr));
    }
    let data_dir = config.data_dir.clone();
    let io_error = |source| Error::DataDir { path: data_dir.clone(), source };
    for bucket in &config.buckets {
        std::fs::create_dir_all(data_dir.join(bucket)).map_err(io_error)?;
    }
    std::fs::create_dir_all(&data_dir).map_err(io_error)?;
    let root = data_dir.canonicalize().map_err(io_error)?;
    let fs = s3s_fs::FileSystem::new(&root)
        .map_err(|err| Error::DataDir { path: data_dir.clone(), source: std::io::Error::other(format!("{err:?}")) })?;

    let sequencer = events::Sequencer::open(&data_dir.join(SEQUENCER_FILE));
    let notifier = events::Notifier::new(&config.notify_buckets, events, sequencer);
    let store = store::Store {
        fs,
        root,
        notifier,
        max_upload_bytes: config.max_upload_bytes,
        versioned: config.versioned_buckets.iter().cloned().collect(),
        locks: versions::KeyLocks::default(),
    };

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
        form_read_timeout: options.limits.body_read_timeout,
        faults: faults::Faults::new(options.faults),
    });

    let (stop, stopped) = watch::channel(());
    let serving = front_door.clone();
    let handler = Arc::new(move |req| {
        let front_door = serving.clone();
        async move { front_door.handle(req).await }
    });
    let task = tokio::spawn(loopback_listener::serve("S3", listener, options.limits, handler, stopped));
    Ok(S3Endpoint { url: format!("http://{addr}"), addr, front_door, stop, task: Some(task) })
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
    for bucket in config.buckets.iter().chain(&config.notify_buckets).chain(&config.versioned_buckets) {
        if !s3s::path::check_bucket_name(bucket) {
            return bad(format!("'{bucket}' is not a valid bucket name"));
        }
    }
    Ok(())
}
