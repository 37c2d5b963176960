//! The real embedded endpoints the tests run against: the `s3-endpoint` crate (S3 with SigV4 and
//! POST policies) and dynoxide (DynamoDB), both on loopback, with imgpipe's table created.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use imgpipe_core::aws::{Clients, LocalEndpoints};
use imgpipe_core::http::ApiState;
use imgpipe_core::model::{BucketRef, ObjectCreatedDetail, ObjectRef};
use imgpipe_core::{Config, Pipeline};
use s3_endpoint::{ObjectCreated, S3Endpoint};
use tokio::sync::{mpsc, oneshot};

/// Credentials the embedded S3 endpoint accepts.
pub const ACCESS_KEY: &str = "AKIDIMGPIPEE2ETEST";
pub const SECRET_KEY: &str = "imgpipe-e2e-secret-key-0123456789abcdef";
pub const REGION: &str = "us-east-1";
pub const INPUT_BUCKET: &str = "imgpipe-input";
pub const OUTPUT_BUCKET: &str = "imgpipe-output";
pub const TABLE: &str = "imgpipe";
/// Largest single upload the S3 endpoint takes (the product's default limit).
pub const MAX_UPLOAD_BYTES: u64 = 15 * 1024 * 1024;

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

/// Embedded S3 + DynamoDB for one test; everything stops when dropped.
pub struct Endpoints {
    pub s3: S3Endpoint,
    pub dynamodb_url: String,
    /// SDK clients pointed at both endpoints (the product's `Clients::local`).
    pub clients: Clients,
    /// "Object Created" notifications of the input bucket.
    pub events: mpsc::UnboundedReceiver<ObjectCreated>,
    pub data_dir: TempDir,
    _stop_dynamodb: oneshot::Sender<()>,
}

impl Endpoints {
    /// Starts both endpoints on `127.0.0.1:0`, creates the buckets and the table.
    pub async fn start() -> Endpoints {
        let data_dir = TempDir::new("imgpipe-e2e");
        let (tx, events) = mpsc::unbounded_channel();
        let s3_config = s3_endpoint::Config {
            data_dir: data_dir.0.join("s3"),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            region: REGION.into(),
            buckets: vec![INPUT_BUCKET.into(), OUTPUT_BUCKET.into()],
            notify_buckets: vec![INPUT_BUCKET.into()],
            max_upload_bytes: MAX_UPLOAD_BYTES,
            allowed_origins: vec![],
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding S3");
        let s3 = s3_endpoint::start(s3_config, listener, tx).await.expect("starting the S3 endpoint");

        let db = dynoxide::Database::memory().expect("opening an in-memory dynoxide");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding DynamoDB");
        let dynamodb_url = format!("http://{}", listener.local_addr().expect("DynamoDB address"));
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = dynoxide::server::serve_with_shutdown(listener, db, shutdown).await {
                eprintln!("embedded DynamoDB stopped: {e}");
            }
        });

        let clients = Clients::local(&LocalEndpoints {
            s3_url: s3.url.clone(),
            dynamodb_url: dynamodb_url.clone(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            region: REGION.into(),
        });
        create_table(&clients.dynamo, TABLE).await;
        Endpoints { s3, dynamodb_url, clients, events, data_dir, _stop_dynamodb: stop }
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
            ("AWS_ENDPOINT_URL_S3", self.s3.url.as_str()),
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

    /// The image item of `id` as JSON, if any.
    pub async fn image_item(&self, id: &str) -> Option<serde_json::Value> {
        let out = self
            .clients
            .dynamo
            .get_item()
            .table_name(TABLE)
            .key("PK", AttributeValue::S(imgpipe_core::dynamo::image_pk(id)))
            .key("SK", AttributeValue::S(imgpipe_core::dynamo::IMAGE_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("reading an image item");
        out.item.as_ref().map(imgpipe_core::dynamo::item_to_json)
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

/// Creates imgpipe's single table (PK/SK, GSI1 for recent-by-owner, TTL on `expiresAt`), as
/// `template.yaml` and the local binary's `ensure_table` do.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    let attr = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let key =
        |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .attribute_definitions(attr("GSI1PK"))
        .attribute_definitions(attr("GSI1SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("GSI1")
                .key_schema(key("GSI1PK", KeyType::Hash))
                .key_schema(key("GSI1SK", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("creating the table");
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder().enabled(true).attribute_name("expiresAt").build().unwrap(),
        )
        .send()
        .await
        .expect("enabling TTL");
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
