//! The endpoint through the real aws-sdk-dynamodb client and raw HTTP: signatures, CORS, limits,
//! faults.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use dynamodb_endpoint::{Config, DynamoEndpoint, FaultPlan, ListenerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ACCESS_KEY: &str = "AKIALOCALDYNAMO";
const SECRET_KEY: &str = "local/dynamo+SECRET/1";
const REGION: &str = "eu-west-1";
const TABLE: &str = "records";

async fn start_with(config: Config) -> DynamoEndpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    dynamodb_endpoint::start(config, listener).await.unwrap()
}

async fn start() -> DynamoEndpoint {
    start_with(Config::new(None, ACCESS_KEY, SECRET_KEY, REGION)).await
}

/// The request the SDK sent last (after signing), captured for replay and tampering.
#[derive(Debug, Default, Clone)]
struct Captured {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Option<Captured>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let headers = request.headers().iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        let body = request.body().bytes().unwrap_or_default().to_vec();
        *self.0.lock().unwrap() = Some(Captured { headers, body });
        Ok(())
    }
}

fn client_with(url: &str, access_key: &str, secret: &str, capture: Option<Capture>) -> aws_sdk_dynamodb::Client {
    let mut conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(access_key, secret, None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(12).with_initial_backoff(Duration::from_millis(2)));
    if let Some(capture) = capture {
        conf = conf.interceptor(capture);
    }
    aws_sdk_dynamodb::Client::from_conf(conf.build())
}

fn client(url: &str) -> aws_sdk_dynamodb::Client {
    client_with(url, ACCESS_KEY, SECRET_KEY, None)
}

async fn create_table(client: &aws_sdk_dynamodb::Client) {
    client
        .create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("PK").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("PK").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
}

async fn put(client: &aws_sdk_dynamodb::Client, pk: &str) {
    client
        .put_item()
        .table_name(TABLE)
        .item("PK", AttributeValue::S(pk.into()))
        .item("secret", AttributeValue::S("top".into()))
        .send()
        .await
        .unwrap();
}

/// POSTs raw bytes with the given headers; returns status, Access-Control headers and body.
async fn raw_post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> (u16, String) {
    let mut request = reqwest::Client::new().post(url).body(body);
    for (name, value) in headers {
        if name != "content-length" {
            request = request.header(name, value);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn error_type(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    json["__type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn signed_sdk_requests_work() {
    let endpoint = start().await;
    let client = client(&endpoint.url);
    create_table(&client).await;
    put(&client, "a").await;
    let got = client.get_item().table_name(TABLE).key("PK", AttributeValue::S("a".into())).send().await.unwrap();
    assert_eq!(got.item().and_then(|i| i.get("secret")), Some(&AttributeValue::S("top".into())));
    let scan = client.scan().table_name(TABLE).send().await.unwrap();
    assert_eq!(scan.count(), 1);
    endpoint.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_dynamodb_errors() {
    let endpoint = start().await;
    create_table(&client(&endpoint.url)).await;
    put(&client(&endpoint.url), "a").await;

    let wrong_secret = client_with(&endpoint.url, ACCESS_KEY, "not-the-secret", None);
    let err = wrong_secret.scan().table_name(TABLE).send().await.unwrap_err();
    let service = err.as_service_error().unwrap();
    assert_eq!(service.meta().code(), Some("InvalidSignatureException"), "{err:?}");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 400);

    let wrong_key = client_with(&endpoint.url, "AKIAINTRUDER", SECRET_KEY, None);
    let err = wrong_key.scan().table_name(TABLE).send().await.unwrap_err();
    assert_eq!(err.as_service_error().unwrap().meta().code(), Some("UnrecognizedClientException"), "{err:?}");
    assert_eq!(
        err.as_service_error().unwrap().meta().message(),
        Some("The security token included in the request is invalid.")
    );
}

/// The attack from the review: a Scan with a made-up Authorization read the table.
#[tokio::test]
async fn forged_or_missing_authorization_reads_nothing() {
    let endpoint = start().await;
    create_table(&client(&endpoint.url)).await;
    put(&client(&endpoint.url), "a").await;
    let scan = format!("{{\"TableName\":\"{TABLE}\"}}").into_bytes();
    let base = vec![
        ("content-type".to_owned(), "application/x-amz-json-1.0".to_owned()),
        ("x-amz-target".to_owned(), "DynamoDB_20120810.Scan".to_owned()),
        ("x-amz-date".to_owned(), chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()),
    ];
    let mut forged = base.clone();
    forged.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{}/{REGION}/dynamodb/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-target, Signature={}",
            chrono::Utc::now().format("%Y%m%d"),
            "ab".repeat(32)
        ),
    ));
    let (status, body) = raw_post(&endpoint.url, &forged, scan.clone()).await;
    assert_eq!((status, error_type(&body).as_str()), (400, "com.amazon.coral.service#InvalidSignatureException"));
    assert!(!body.contains("top"));

    let (status, body) = raw_post(&endpoint.url, &base, scan).await;
    assert_eq!(status, 400);
    assert_eq!(error_type(&body), "com.amazon.coral.service#MissingAuthenticationTokenException");
    assert!(!body.contains("top"));
}

#[tokio::test]
async fn replayed_request_with_tampered_body_or_target_is_refused() {
    let endpoint = start().await;
    create_table(&client(&endpoint.url)).await;
    put(&client(&endpoint.url), "a").await;
    let capture = Capture::default();
    let spy = client_with(&endpoint.url, ACCESS_KEY, SECRET_KEY, Some(capture.clone()));
    spy.get_item().table_name(TABLE).key("PK", AttributeValue::S("zzz".into())).send().await.unwrap();
    let captured = capture.0.lock().unwrap().clone().unwrap();

    // the untouched request replays (as on AWS, within the 15 minutes)
    let (status, _) = raw_post(&endpoint.url, &captured.headers, captured.body.clone()).await;
    assert_eq!(status, 200);

    let tampered = String::from_utf8(captured.body.clone()).unwrap().replace("zzz", "a\"}}, \"x\":{\"S\":\"");
    let (status, body) = raw_post(&endpoint.url, &captured.headers, tampered.into_bytes()).await;
    assert_eq!((status, error_type(&body).as_str()), (400, "com.amazon.coral.service#InvalidSignatureException"));

    let retargeted: Vec<_> = captured
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), if n == "x-amz-target" { "DynamoDB_20120810.Scan".into() } else { v.clone() }))
        .collect();
    let scan = format!("{{\"TableName\":\"{TABLE}\"}}").into_bytes();
    let (status, body) = raw_post(&endpoint.url, &retargeted, scan).await;
    assert_eq!((status, error_type(&body).as_str()), (400, "com.amazon.coral.service#InvalidSignatureException"));
    assert!(!body.contains("top"));
}

#[tokio::test]
async fn no_cors_for_any_origin() {
    let endpoint = start().await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, &endpoint.url)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-amz-target,content-type,authorization")
        .send()
        .await
        .unwrap();
    assert!(!preflight.status().is_success());
    let cors: Vec<_> =
        preflight.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).cloned().collect();
    assert!(cors.is_empty(), "{cors:?}");

    let post = http
        .post(&endpoint.url)
        .header("origin", "http://evil.example")
        .header("x-amz-target", "DynamoDB_20120810.ListTables")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 400);
    assert!(post.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
}

fn tight_limits() -> ListenerLimits {
    ListenerLimits {
        header_read_timeout: Duration::from_millis(400),
        body_read_timeout: Duration::from_millis(400),
        max_connections: 1,
    }
}

/// Reads until the server closes (Ok(bytes)) or `within` passes (Err).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut out)).await;
    match read {
        Ok(_) => Ok(out),
        Err(_) => Err(()),
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let mut config = Config::new(None, ACCESS_KEY, SECRET_KEY, REGION);
    config.limits = ListenerLimits { max_connections: 8, ..tight_limits() };
    let endpoint = start_with(config).await;

    // half a request head
    let mut half = TcpStream::connect(endpoint.addr).await.unwrap();
    half.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Ta").await.unwrap();
    // a whole head, then a body that never comes
    let mut slow_body = TcpStream::connect(endpoint.addr).await.unwrap();
    slow_body.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{").await.unwrap();
    // nothing at all
    let mut silent = TcpStream::connect(endpoint.addr).await.unwrap();

    for stream in [&mut half, &mut slow_body, &mut silent] {
        assert!(read_until_closed(stream, Duration::from_secs(3)).await.is_ok(), "still open after 3 s");
    }
}

#[tokio::test]
async fn connections_over_the_cap_wait() {
    let mut config = Config::new(None, ACCESS_KEY, SECRET_KEY, REGION);
    config.limits = tight_limits();
    let endpoint = start_with(config).await;

    let mut holder = TcpStream::connect(endpoint.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut waiting = TcpStream::connect(endpoint.addr).await.unwrap();
    waiting.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(200), waiting.read(&mut first)).await;
    assert!(early.is_err(), "served while the only connection slot was taken");
    // the holder times out, and the waiting one is served
    let answer = read_until_closed(&mut waiting, Duration::from_secs(3)).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
    assert!(read_until_closed(&mut holder, Duration::from_secs(1)).await.is_ok());
}

#[tokio::test]
async fn only_loopback() {
    let listener = TcpListener::bind("0.0.0.0:0").await.unwrap();
    let config = Config::new(None, ACCESS_KEY, SECRET_KEY, REGION);
    assert!(matches!(dynamodb_endpoint::start(config, listener).await, Err(dynamodb_endpoint::Error::NotLoopback(_))));
}

#[tokio::test]
async fn sdk_retries_through_injected_faults() {
    let mut config = Config::new(None, ACCESS_KEY, SECRET_KEY, REGION);
    config.faults = "rate=0.3,seed=12345".parse::<FaultPlan>().unwrap();
    let dir = std::env::temp_dir().join(format!("dynamo-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    config.db_path = Some(dir.join("db.sqlite"));
    let mut setup = config.clone();
    setup.faults = FaultPlan::none();
    let plain = start_with(setup).await;
    create_table(&client(&plain.url)).await;
    plain.shutdown().await;

    let endpoint = start_with(config).await;
    let client = client(&endpoint.url);
    for i in 0..25 {
        put(&client, &format!("item-{i}")).await;
        let got = client
            .get_item()
            .table_name(TABLE)
            .key("PK", AttributeValue::S(format!("item-{i}")))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert!(got.item().is_some());
    }
    let mut items = 0;
    let mut start_key = None;
    loop {
        let page = client.scan().table_name(TABLE).set_exclusive_start_key(start_key).send().await.unwrap();
        items += page.count();
        start_key = page.last_evaluated_key().cloned();
        if start_key.is_none() {
            break;
        }
    }
    assert_eq!(items, 25, "no item lost or duplicated");
    let counts = endpoint.faults_injected();
    assert!(counts.total() >= 8, "{counts:?}");
    assert!(counts.provisioned_throughput_exceeded > 0 && counts.throttling > 0, "{counts:?}");
    assert!(counts.internal_server_error > 0 && counts.dropped_connection > 0, "{counts:?}");
    endpoint.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
