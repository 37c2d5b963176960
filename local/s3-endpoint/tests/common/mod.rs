//! Test harness: a real endpoint on 127.0.0.1:0 in a fresh directory, an aws-sdk-s3 client for
//! it, and a small independent POST policy signer (SigV4) for browser-style uploads.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use s3_endpoint::{Config, ObjectCreated, Options, S3Endpoint};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver};

pub const ACCESS_KEY: &str = "AKIALOCALTEST";
pub const SECRET_KEY: &str = "local/secret+KEY/123";
pub const REGION: &str = "eu-west-1";
/// Notified bucket (the product's input bucket).
pub const INPUT: &str = "input-bucket";
/// Not notified.
pub const RESULTS: &str = "results-bucket";

pub struct Harness {
    pub endpoint: Option<S3Endpoint>,
    pub url: String,
    pub events: UnboundedReceiver<ObjectCreated>,
    pub dir: PathBuf,
    pub client: aws_sdk_s3::Client,
}

pub fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "s3-endpoint-test-{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_nanos_opt().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn config(dir: PathBuf, max_upload_bytes: u64) -> Config {
    Config {
        data_dir: dir,
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        region: REGION.into(),
        buckets: vec![INPUT.into(), RESULTS.into()],
        notify_buckets: vec![INPUT.into()],
        versioned_buckets: vec![INPUT.into()],
        max_upload_bytes,
        allowed_origins: vec!["http://127.0.0.1:7777".into()],
    }
}

pub fn client(url: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

impl Harness {
    pub async fn start(max_upload_bytes: u64) -> Self {
        Self::start_in(fresh_dir(), max_upload_bytes).await
    }

    pub async fn start_in(dir: PathBuf, max_upload_bytes: u64) -> Self {
        Self::start_with(config(dir, max_upload_bytes), Options::default()).await
    }

    pub async fn start_with(config: Config, options: Options) -> Self {
        let dir = config.data_dir.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let endpoint = s3_endpoint::start_with_options(config, options, listener, tx).await.unwrap();
        let url = endpoint.url.clone();
        let client = client(&url, SECRET_KEY);
        Self { endpoint: Some(endpoint), url, events, dir, client }
    }

    /// The next event (fails after 5 s).
    pub async fn event(&mut self) -> ObjectCreated {
        tokio::time::timeout(Duration::from_secs(5), self.events.recv())
            .await
            .expect("no ObjectCreated event within 5 s")
            .expect("event channel closed")
    }

    /// Asserts that no event is pending (after letting the server finish).
    pub async fn assert_no_event(&mut self) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        match self.events.try_recv() {
            Err(TryRecvError::Empty) => {}
            other => panic!("unexpected event: {other:?}"),
        }
    }

    pub async fn exists(&self, bucket: &str, key: &str) -> bool {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => true,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(err) => panic!("head_object failed: {err:?}"),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        drop(self.endpoint.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The SigV4 POST signature of a base64 policy.
pub fn post_signature(secret: &str, date: &str, region: &str, policy_b64: &str) -> String {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, policy_b64.as_bytes()))
}

/// Form fields for a SigV4 POST upload: the auth fields plus a policy with `conditions` (the
/// bucket and the x-amz-* conditions are added), signed with `secret`.
pub fn signed_fields(
    bucket: &str,
    conditions: Vec<Value>,
    expiration: DateTime<Utc>,
    secret: &str,
) -> Vec<(String, String)> {
    let now = Utc::now();
    let date = now.format("%Y%m%d").to_string();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{ACCESS_KEY}/{date}/{REGION}/s3/aws4_request");
    let mut all = vec![json!({ "bucket": bucket })];
    all.extend(conditions);
    all.push(json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }));
    all.push(json!({ "x-amz-credential": credential }));
    all.push(json!({ "x-amz-date": amz_date }));
    let policy = json!({
        "expiration": expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "conditions": all,
    });
    let policy_b64 = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signature = post_signature(secret, &date, REGION, &policy_b64);
    vec![
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), amz_date),
        ("policy".into(), policy_b64),
        ("x-amz-signature".into(), signature),
    ]
}

/// Replaces (or adds) a field.
pub fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(n, _)| n != name);
    fields.push((name.into(), value.into()));
}

/// A browser-style multipart POST to `/{bucket}`; returns status and body.
pub async fn post_form(url: &str, bucket: &str, fields: &[(String, String)], file: Vec<u8>) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.clone());
    }
    let part = reqwest::multipart::Part::bytes(file).file_name("photo.jpg").mime_str("image/jpeg").unwrap();
    form = form.part("file", part);
    let response = reqwest::Client::new()
        .post(format!("{url}/{bucket}"))
        .header("origin", "http://127.0.0.1:7777")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The `<Code>` of an S3 XML error body.
pub fn error_code(body: &str) -> &str {
    body.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).unwrap_or("")
}

/// Bytes that look like nothing in particular (deterministic).
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Starts a multipart upload of `key` and uploads parts of `sizes` bytes; returns the upload id
/// and the parts to complete it with.
pub async fn upload_parts(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    sizes: &[usize],
) -> (String, Vec<aws_sdk_s3::types::CompletedPart>) {
    let upload = client.create_multipart_upload().bucket(bucket).key(key).send().await.unwrap();
    let upload_id = upload.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (number, size) in (1..).zip(sizes) {
        let part = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(aws_sdk_s3::primitives::ByteStream::from(payload(*size)))
            .send()
            .await
            .unwrap();
        let e_tag = part.e_tag().map(str::to_owned);
        parts.push(aws_sdk_s3::types::CompletedPart::builder().part_number(number).set_e_tag(e_tag).build());
    }
    (upload_id, parts)
}

/// Completes a multipart upload started by [`upload_parts`].
pub async fn complete_upload(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    (upload_id, parts): (String, Vec<aws_sdk_s3::types::CompletedPart>),
) -> aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput {
    let upload = aws_sdk_s3::types::CompletedMultipartUpload::builder().set_parts(Some(parts)).build();
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(upload)
        .send()
        .await
        .unwrap()
}
