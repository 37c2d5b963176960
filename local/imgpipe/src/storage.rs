//! The embedded storage: the S3 endpoint and DynamoDB on loopback, the SDK clients that reach
//! them, the table created from core's schema, and the input bucket's "Object Created"
//! notifications. The stack and the end-to-end tests start storage through here.

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

/// The access key pair the embedded endpoints accept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
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
        create_private_dir(&opts.data_dir)?;
        let credentials = match opts.credentials {
            Some(c) => c,
            None => local_credentials(&opts.data_dir)?,
        };
        let config = &opts.config;
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the S3 endpoint")?;
        let s3 = s3_endpoint::start(
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
            s3_listener,
            events_tx,
        )
        .await
        .context("starting the embedded S3 endpoint")?;
        let dynamodb = start_dynamodb(&opts.data_dir, &credentials).await?;
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

/// The embedded DynamoDB over `<data_dir>/dynamodb.sqlite`: every request's SigV4 checked with
/// the stack's key, no CORS, slow clients cut off, expired PENDING records swept as TTL does.
async fn start_dynamodb(
    data_dir: &Path,
    credentials: &Credentials,
) -> anyhow::Result<dynamodb_endpoint::DynamoEndpoint> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the DynamoDB endpoint")?;
    let config = dynamodb_endpoint::Config::new(
        Some(data_dir.join("dynamodb.sqlite")),
        &credentials.access_key,
        &credentials.secret_key,
        SIGNING_REGION,
    );
    dynamodb_endpoint::start(config, listener).await.context("starting the embedded DynamoDB endpoint")
}

/// Creates `dir` (and its parents) if missing and makes it private to its owner (0700).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", dir.display()))
}

/// The data directory's key pair: made once, kept in a file only its owner can read (0600).
fn local_credentials(data_dir: &Path) -> anyhow::Result<Credentials> {
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
