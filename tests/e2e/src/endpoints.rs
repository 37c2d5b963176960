//! The real embedded endpoints the tests run against: the `s3-endpoint` crate (S3 with SigV4 and
//! POST policies) and dynoxide (DynamoDB), both on loopback, with imgpipe's table created.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use imgpipe::storage::{Credentials, Storage, StorageOptions};
use imgpipe_core::aws::Clients;
use imgpipe_core::http::ApiState;
use imgpipe_core::model::{BucketRef, ObjectCreatedDetail, ObjectRef};
use imgpipe_core::table::{ImageRecord, Table};
use imgpipe_core::{Config, Pipeline};
use s3_endpoint::ObjectCreated;
use tokio::sync::mpsc;

/// Credentials the embedded endpoints accept.
pub const ACCESS_KEY: &str = "AKIDIMGPIPEE2ETEST";
pub const SECRET_KEY: &str = "imgpipe-e2e-secret-key-0123456789abcdef";
pub const REGION: &str = imgpipe::storage::SIGNING_REGION;
pub const INPUT_BUCKET: &str = "imgpipe-input";
pub const OUTPUT_BUCKET: &str = "imgpipe-output";
pub const TABLE: &str = "imgpipe";
/// The owner (`sub`) of the records the tests create.
pub const TEST_OWNER: &str = "e2e-test-owner";

/// The execution the tests pretend runs for an upload: the same for every step of one upload, so
/// a step retried in a test is the same execution's retry.
pub fn execution_arn(detail: &ObjectCreatedDetail) -> String {
    let name = detail.object.key.trim_start_matches("uploads/").replace('.', "-");
    format!("arn:aws:states:us-east-1:123456789012:execution:imgpipe-pipeline:{name}")
}

/// Validate's input as the state machine builds it: the event detail and the execution id.
pub fn validate_input(detail: &ObjectCreatedDetail) -> serde_json::Value {
    serde_json::json!({ "detail": detail, "executionId": execution_arn(detail) })
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The product's embedded storage (S3 + DynamoDB, table created) for one test; everything
/// stops when dropped.
pub struct Endpoints {
    pub storage: Storage,
    pub s3_url: String,
    pub dynamodb_url: String,
    /// SDK clients pointed at both endpoints (the product's `Clients::local`).
    pub clients: Clients,
    pub table: Table,
    /// "Object Created" notifications of the input bucket.
    pub events: mpsc::UnboundedReceiver<ObjectCreated>,
    pub data_dir: TempDir,
}

impl Endpoints {
    /// Starts the product's storage on `127.0.0.1:0` with the test credentials.
    pub async fn start() -> Endpoints {
        let data_dir = TempDir::new("imgpipe-e2e");
        let config = Config {
            input_bucket: INPUT_BUCKET.into(),
            output_bucket: OUTPUT_BUCKET.into(),
            table_name: TABLE.into(),
            ..Config::default()
        };
        let mut storage = Storage::start(StorageOptions {
            data_dir: data_dir.0.clone(),
            config,
            credentials: Some(Credentials { access_key: ACCESS_KEY.into(), secret_key: SECRET_KEY.into() }),
            allowed_origins: vec![],
        })
        .await
        .expect("starting the embedded storage");
        let events = storage.events.take().expect("the upload notifications");
        let (clients, table) = (storage.clients.clone(), storage.table.clone());
        let (s3_url, dynamodb_url) = (storage.s3.url.clone(), storage.dynamodb.url.clone());
        Endpoints { storage, s3_url, dynamodb_url, clients, table, events, data_dir }
    }

    /// The product configuration for these endpoints (defaults otherwise).
    pub fn config(&self) -> Config {
        Config {
            input_bucket: INPUT_BUCKET.into(),
            output_bucket: OUTPUT_BUCKET.into(),
            table_name: TABLE.into(),
            ..Config::default()
        }
    }

    /// The step pipeline over these endpoints, without a label detector.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline { config: self.config(), clients: self.clients.clone(), detector: None }
    }

    /// API state over these endpoints with `config`.
    pub fn api_state(&self, config: Config) -> Arc<ApiState> {
        Arc::new(ApiState { config, clients: self.clients.clone(), executions: None })
    }

    /// The environment a Lambda function gets to reach these endpoints (as on AWS, plus endpoint URLs).
    pub fn function_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_ENDPOINT_URL_S3", self.s3_url.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_url.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("INPUT_BUCKET", INPUT_BUCKET),
            ("OUTPUT_BUCKET", OUTPUT_BUCKET),
            ("TABLE_NAME", TABLE),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// PUTs `bytes` to `uploads/<new uuid>.<ext>` in the input bucket and returns the id and
    /// the S3 event detail the endpoint emitted for it.
    pub async fn upload(&mut self, bytes: Vec<u8>, ext: &str, content_type: &str) -> (String, ObjectCreatedDetail) {
        let id = uuid::Uuid::new_v4().to_string();
        let key = format!("uploads/{id}.{ext}");
        self.pending(&id, &key).await;
        self.clients
            .s3
            .put_object()
            .bucket(INPUT_BUCKET)
            .key(&key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .expect("uploading a test object");
        let event = self.next_event(Duration::from_secs(5)).await.expect("an Object Created event for the upload");
        assert_eq!(event.key, key, "the event is for the object just uploaded");
        (id, detail_of(&event))
    }

    /// Creates the PENDING record presign would, owned by [`TEST_OWNER`].
    pub async fn pending(&self, id: &str, key: &str) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = ImageRecord::pending(id, TEST_OWNER, INPUT_BUCKET, key, &now);
        self.table.put_pending(&record).await.expect("creating the pending record");
    }

    /// The next "Object Created" notification, or `None` after `timeout`.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<ObjectCreated> {
        tokio::time::timeout(timeout, self.events.recv()).await.ok().flatten()
    }

    /// The bytes of an object, or `None` if it does not exist.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let out = self.clients.s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        Some(out.body.collect().await.expect("reading an object body").into_bytes().to_vec())
    }

    /// Every item of the table (all pages).
    pub async fn scan_table(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .clients
                .dynamo
                .scan()
                .table_name(TABLE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scanning the table");
            items.extend(out.items().iter().cloned());
            start = out.last_evaluated_key().cloned();
            if start.is_none() {
                return items;
            }
        }
    }

    /// The image record of `id`, if any (strongly consistent).
    pub async fn image_record(&self, id: &str) -> Option<ImageRecord> {
        self.table.get_image(id, true).await.expect("reading an image record")
    }

    /// The image item of `id` as JSON (its stored attributes), if any.
    pub async fn image_item(&self, id: &str) -> Option<serde_json::Value> {
        let record = self.image_record(id).await?;
        let item = record.to_item().expect("encoding a record");
        Some(imgpipe_core::table::attr::item_to_json(&item))
    }
}

/// The EventBridge `detail` S3 sends for a created object.
pub fn detail_of(event: &ObjectCreated) -> ObjectCreatedDetail {
    ObjectCreatedDetail {
        version: Some("0".into()),
        bucket: BucketRef { name: event.bucket.clone() },
        object: ObjectRef {
            key: event.key.clone(),
            size: event.size,
            etag: event.etag.clone(),
            sequencer: Some(event.sequencer.clone()),
            version_id: event.version_id.clone(),
        },
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        requester: Some("123456789012".into()),
        source_ip_address: Some("127.0.0.1".into()),
        reason: Some(event.reason.clone()),
    }
}

/// Serves an axum router on `127.0.0.1:0`; returns its base URL. The server stops with the test's runtime.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a router");
    let url = format!("http://{}", listener.local_addr().expect("router address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    url
}
