//! The embedded storage: the S3 endpoint and DynamoDB on loopback, the SDK clients that reach
//! them, the table created from core's schema, and the input bucket's "Object Created"
//! notifications. The stack and the end-to-end tests start storage through here.
//!
//! The endpoints listen on fixed ports ([`Ports`]) so that the AWS CLI lines `imgpipe env`
//! prints stay valid across restarts; the key pair is kept in the data directory for the same
//! reason.
//!
//! For tests and the reliability bench, `IMGPIPE_S3_FAULTS` and `IMGPIPE_DYNAMODB_FAULTS` make the
//! endpoints answer a share of requests with the errors AWS returns under stress (see
//! [`DependencyFaults`]).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use imgpipe_core::aws::{Clients, LocalEndpoints};
use imgpipe_core::table::Table;
use imgpipe_core::Config;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Region the local SDK clients sign for.
pub const SIGNING_REGION: &str = "us-east-1";
/// The data directory's file with the access key pair; readable by its owner only.
const CREDENTIALS_FILE: &str = "credentials.json";
/// The data directory's record of the ports the last `serve` listened on.
const PORTS_FILE: &str = "ports.json";
/// The page's default port; the endpoints take the next three.
pub const DEFAULT_PAGE_PORT: u16 = 8080;
/// Fault plan of the embedded S3 endpoint, e.g. `rate=0.05,kinds=slowdown+internal+drop,seed=7`.
pub const S3_FAULTS_ENV: &str = "IMGPIPE_S3_FAULTS";
/// Fault plan of the embedded DynamoDB endpoint, e.g. `rate=0.05,kinds=throughput+throttling,seed=7`.
pub const DYNAMODB_FAULTS_ENV: &str = "IMGPIPE_DYNAMODB_FAULTS";

/// Faults injected by the embedded endpoints (none by default): a share of requests answered
/// with 503 SlowDown, 500 InternalError, ProvisionedThroughputExceededException,
/// ThrottlingException, or a dropped connection. For tests and the reliability bench only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DependencyFaults {
    pub s3: s3_endpoint::FaultPlan,
    pub dynamodb: dynamodb_endpoint::FaultPlan,
}

impl DependencyFaults {
    /// The plans in [`S3_FAULTS_ENV`] and [`DYNAMODB_FAULTS_ENV`] (unset or empty: none).
    /// A plan that does not parse is an error naming the variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| match std::env::var(name) {
            Ok(value) => Ok(value),
            Err(std::env::VarError::NotPresent) => Ok(String::new()),
            Err(std::env::VarError::NotUnicode(_)) => Err(anyhow::anyhow!("{name} is not UTF-8")),
        };
        Self::parse(&var(S3_FAULTS_ENV)?, &var(DYNAMODB_FAULTS_ENV)?)
    }

    /// Parses both plans (`rate=R[,kinds=A+B][,seed=N]`; empty or `off`: none).
    pub fn parse(s3: &str, dynamodb: &str) -> anyhow::Result<Self> {
        Ok(DependencyFaults {
            s3: s3.parse().with_context(|| format!("{S3_FAULTS_ENV} is not a fault plan"))?,
            dynamodb: dynamodb.parse().with_context(|| format!("{DYNAMODB_FAULTS_ENV} is not a fault plan"))?,
        })
    }

    /// Whether either endpoint injects any fault.
    pub fn is_active(&self) -> bool {
        self.s3.is_active() || self.dynamodb.is_active()
    }
}

/// The access key pair the embedded endpoints accept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

/// The loopback ports of the stack: the page and API, then S3, DynamoDB and Step Functions.
/// 0 is any free port.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ports {
    pub page: u16,
    pub s3: u16,
    pub dynamodb: u16,
    pub sfn: u16,
}

impl Ports {
    /// Every endpoint on a free port (tests, one-shot commands).
    pub const ANY: Ports = Ports { page: 0, s3: 0, dynamodb: 0, sfn: 0 };

    /// The page's port and any endpoint ports given; an endpoint not given takes the page's port
    /// plus 1 (S3), 2 (DynamoDB) or 3 (Step Functions), or a free port when the page's is 0.
    pub fn resolve(page: u16, s3: Option<u16>, dynamodb: Option<u16>, sfn: Option<u16>) -> anyhow::Result<Ports> {
        let next = |given: Option<u16>, offset: u16, flag: &str| match (given, page) {
            (Some(port), _) => Ok(port),
            (None, 0) => Ok(0),
            (None, page) => page.checked_add(offset).ok_or_else(|| {
                anyhow::anyhow!("--port {page} leaves no room for the endpoint ports above it; give {flag}")
            }),
        };
        Ok(Ports {
            page,
            s3: next(s3, 1, "--s3-port")?,
            dynamodb: next(dynamodb, 2, "--dynamodb-port")?,
            sfn: next(sfn, 3, "--sfn-port")?,
        })
    }

    /// Records the ports a server listens on in `data_dir` (0600), for `imgpipe env`.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        write_private(&data_dir.join(PORTS_FILE), serde_json::to_string(self)?.as_bytes())
    }

    /// The ports the last server on `data_dir` listened on, if one has run there.
    pub fn last_used(data_dir: &Path) -> Option<Ports> {
        let text = std::fs::read_to_string(data_dir.join(PORTS_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// `http://127.0.0.1:PORT`
pub fn local_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Binds `127.0.0.1:port` for the endpoint `what`, naming its flag when the port is taken.
pub async fn bind(port: u16, what: &str, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("127.0.0.1", port)).await.with_context(|| {
        format!("cannot listen on 127.0.0.1:{port} for {what} (choose another with {flag}, or --port 0 for free ports)")
    })
}

/// How to start storage.
pub struct StorageOptions {
    pub data_dir: PathBuf,
    /// Buckets, table name and upload limit come from here.
    pub config: Config,
    /// The key pair to accept; `None`: the data directory's own (made on first start).
    pub credentials: Option<Credentials>,
    /// Origins the S3 endpoint answers CORS for (the page's); empty: none.
    pub allowed_origins: Vec<String>,
}

/// Running storage; the endpoints stop when it is dropped.
pub struct Storage {
    pub clients: Clients,
    pub table: Table,
    pub credentials: Credentials,
    pub s3: s3_endpoint::S3Endpoint,
    pub dynamodb: dynamodb_endpoint::DynamoEndpoint,
    /// "Object Created" notifications of the input bucket, until someone takes them.
    pub events: Option<mpsc::UnboundedReceiver<s3_endpoint::ObjectCreated>>,
}

impl Storage {
    /// Starts both endpoints on `127.0.0.1:0` and creates the buckets and the table if missing.
    pub async fn start(opts: StorageOptions) -> anyhow::Result<Storage> {
        Self::start_with_faults(opts, DependencyFaults::default()).await
    }

    /// [`Storage::start`] with injected dependency faults (tests and `bench/load.sh`).
    pub async fn start_with_faults(opts: StorageOptions, faults: DependencyFaults) -> anyhow::Result<Storage> {
        Self::start_on(opts, faults, &Ports::ANY).await
    }

    /// [`Storage::start_with_faults`] with S3 and DynamoDB on `ports.s3` and `ports.dynamodb`.
    pub async fn start_on(opts: StorageOptions, faults: DependencyFaults, ports: &Ports) -> anyhow::Result<Storage> {
        if faults.is_active() {
            tracing::warn!(s3 = ?faults.s3, dynamodb = ?faults.dynamodb, "injecting dependency faults (tests only)");
        }
        create_private_dir(&opts.data_dir)?;
        let credentials = match opts.credentials {
            Some(c) => c,
            None => local_credentials(&opts.data_dir)?,
        };
        let config = &opts.config;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let s3_listener = bind(ports.s3, "S3", "--s3-port").await?;
        let s3_options = s3_endpoint::Options { faults: faults.s3, ..s3_endpoint::Options::default() };
        let s3 = s3_endpoint::start_with_options(
            s3_endpoint::Config {
                data_dir: opts.data_dir.join("s3"),
                access_key: credentials.access_key.clone(),
                secret_key: credentials.secret_key.clone(),
                region: SIGNING_REGION.into(),
                buckets: vec![config.input_bucket.clone(), config.output_bucket.clone()],
                notify_buckets: vec![config.input_bucket.clone()],
                versioned_buckets: vec![config.input_bucket.clone()],
                max_upload_bytes: config.limits.max_bytes,
                allowed_origins: opts.allowed_origins.clone(),
            },
            s3_options,
            s3_listener,
            events_tx,
        )
        .await
        .context("starting the embedded S3 endpoint")?;
        let dynamodb_listener = bind(ports.dynamodb, "DynamoDB", "--dynamodb-port").await?;
        let dynamodb = start_dynamodb(&opts.data_dir, &credentials, faults.dynamodb, dynamodb_listener).await?;
        let clients = Clients::local(&LocalEndpoints {
            s3_url: s3.url.clone(),
            dynamodb_url: dynamodb.url.clone(),
            access_key: credentials.access_key.clone(),
            secret_key: credentials.secret_key.clone(),
            region: SIGNING_REGION.into(),
        });
        let table = Table::new(clients.dynamo.clone(), &config.table_name);
        table.ensure_exists().await.context("creating the table")?;
        Ok(Storage { clients, table, credentials, s3, dynamodb, events: Some(events_rx) })
    }
}

impl Drop for Storage {
    /// Logs how many faults were injected, so a test or bench run shows that they happened.
    fn drop(&mut self) {
        let (s3, dynamodb) = (self.s3.faults_injected(), self.dynamodb.faults_injected());
        if s3.total() + dynamodb.total() > 0 {
            tracing::info!(s3 = ?s3, dynamodb = ?dynamodb, "dependency faults injected");
        }
    }
}

/// The embedded DynamoDB over `<data_dir>/dynamodb.sqlite`: every request's SigV4 checked with
/// the stack's key, no CORS, slow clients cut off, expired PENDING records swept as TTL does.
async fn start_dynamodb(
    data_dir: &Path,
    credentials: &Credentials,
    faults: dynamodb_endpoint::FaultPlan,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<dynamodb_endpoint::DynamoEndpoint> {
    let mut config = dynamodb_endpoint::Config::new(
        Some(data_dir.join("dynamodb.sqlite")),
        &credentials.access_key,
        &credentials.secret_key,
        SIGNING_REGION,
    );
    config.faults = faults;
    dynamodb_endpoint::start(config, listener).await.context("starting the embedded DynamoDB endpoint")
}

/// Creates `dir` (and its parents) if missing and makes it private to its owner (0700).
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// The data directory's key pair: made once, kept in a file only its owner can read (0600).
pub fn local_credentials(data_dir: &Path) -> anyhow::Result<Credentials> {
    let path = data_dir.join(CREDENTIALS_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(creds) = serde_json::from_str::<Credentials>(&text) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
            return Ok(creds);
        }
        tracing::warn!(path = %path.display(), "unreadable credentials file; making a new key pair");
    }
    let creds = Credentials {
        access_key: format!("IMGPIPE{}", &uuid::Uuid::new_v4().simple().to_string()[..13].to_uppercase()),
        secret_key: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
    };
    write_private(&path, serde_json::to_string(&creds)?.as_bytes())?;
    Ok(creds)
}

/// Writes a file only its owner can read, replacing any previous one atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn fault_plans_parse_per_endpoint_and_bad_ones_name_the_variable() {
        assert!(!DependencyFaults::parse("", "off").unwrap().is_active());
        let faults = DependencyFaults::parse("rate=0.05,kinds=slowdown+drop,seed=3", "rate=0.2").unwrap();
        assert!(faults.is_active());
        assert_eq!(faults.s3.kinds, [s3_endpoint::FaultKind::SlowDown, s3_endpoint::FaultKind::DroppedConnection]);
        assert_eq!((faults.s3.rate, faults.s3.seed, faults.dynamodb.rate), (0.05, 3, 0.2));
        for (s3, dynamodb, variable) in [
            ("rate=2", "", S3_FAULTS_ENV),
            ("rate=0.1,kinds=throttling", "", S3_FAULTS_ENV),
            ("", "rate=0.1,kinds=slowdown", DYNAMODB_FAULTS_ENV),
            ("", "0.05", DYNAMODB_FAULTS_ENV),
            ("", &"rate=0.1,".repeat(100_000), DYNAMODB_FAULTS_ENV),
        ] {
            let err = format!("{:#}", DependencyFaults::parse(s3, dynamodb).unwrap_err());
            assert!(err.starts_with(variable) && err.contains("invalid fault plan"), "{err:.300}");
            assert!(err.len() < 600, "the error stays short: {} bytes", err.len());
        }
    }

    #[tokio::test]
    async fn the_endpoints_answer_with_the_injected_faults() {
        let dir = std::env::temp_dir().join(format!("imgpipe-storage-{}", uuid::Uuid::new_v4()));
        let opts = || StorageOptions {
            data_dir: dir.join("data"),
            config: Config::default(),
            credentials: None,
            allowed_origins: Vec::new(),
        };
        // Every S3 request is a 503 SlowDown, even after the SDK's retries; DynamoDB works.
        let faults = DependencyFaults::parse("rate=1,kinds=slowdown", "").unwrap();
        let storage = Storage::start_with_faults(opts(), faults).await.unwrap();
        let put = storage
            .clients
            .s3
            .put_object()
            .bucket(Config::default().input_bucket)
            .key("k")
            .body(vec![1u8].into())
            .send();
        let err = put.await.expect_err("every S3 request fails");
        assert_eq!(err.into_service_error().meta().code(), Some("SlowDown"));
        let injected = storage.s3.faults_injected();
        assert!(injected.slow_down >= 1 && injected.total() == injected.slow_down, "{injected:?}");
        assert_eq!(storage.dynamodb.faults_injected().total(), 0);
        drop(storage);
        // Every DynamoDB request is throttled: the table cannot be made, and the start says so.
        let faults = DependencyFaults::parse("", "rate=1,kinds=throttling").unwrap();
        let err = Storage::start_with_faults(opts(), faults).await.err().expect("no DynamoDB request succeeds");
        assert!(format!("{err:#}").contains("creating the table"), "{err:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn endpoint_ports_follow_the_page_unless_given() {
        let default = Ports::resolve(DEFAULT_PAGE_PORT, None, None, None).unwrap();
        assert_eq!(default, Ports { page: 8080, s3: 8081, dynamodb: 8082, sfn: 8083 });
        assert_eq!(Ports::resolve(0, None, None, None).unwrap(), Ports::ANY);
        let mixed = Ports::resolve(9000, Some(4566), None, Some(0)).unwrap();
        assert_eq!(mixed, Ports { page: 9000, s3: 4566, dynamodb: 9002, sfn: 0 });
        let err = Ports::resolve(65534, None, None, None).unwrap_err().to_string();
        assert!(err.contains("--dynamodb-port"), "{err}");
        assert!(Ports::resolve(65534, Some(1), Some(2), Some(3)).is_ok());
    }

    #[test]
    fn the_last_ports_are_recorded_privately() {
        let dir = std::env::temp_dir().join(format!("imgpipe-ports-{}", uuid::Uuid::new_v4()));
        create_private_dir(&dir).unwrap();
        assert_eq!(Ports::last_used(&dir), None);
        let ports = Ports { page: 1, s3: 2, dynamodb: 3, sfn: 4 };
        ports.save(&dir).unwrap();
        assert_eq!(Ports::last_used(&dir), Some(ports));
        assert_eq!(mode(&dir.join(PORTS_FILE)), 0o600);
        std::fs::write(dir.join(PORTS_FILE), "{\"page\": 70000}").unwrap();
        assert_eq!(Ports::last_used(&dir), None, "a damaged record is ignored");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_taken_port_names_its_flag() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = format!("{:#}", bind(port, "S3", "--s3-port").await.unwrap_err());
        assert!(err.contains(&format!("127.0.0.1:{port} for S3")) && err.contains("--s3-port"), "{err}");
    }

    #[test]
    fn secrets_and_the_data_dir_are_private() {
        let dir = std::env::temp_dir().join(format!("imgpipe-storage-{}", uuid::Uuid::new_v4()));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let first = local_credentials(&data).unwrap();
        assert_eq!(mode(&data.join(CREDENTIALS_FILE)), 0o600);
        std::fs::set_permissions(data.join(CREDENTIALS_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(local_credentials(&data).unwrap(), first, "the key pair is kept across starts");
        assert_eq!(mode(&data.join(CREDENTIALS_FILE)), 0o600, "a file left readable is made private again");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
