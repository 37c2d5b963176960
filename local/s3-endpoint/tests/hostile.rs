//! Hostile input (issue 10) and injected faults (issue 12): keys that tried to leave their bucket,
//! keys S3 accepts that the file system does not, forms with repeated part headers, CORS without
//! configured origins, slow clients, and SDK retries through SlowDown/InternalError/dropped
//! connections.

mod common;

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;
use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use s3_endpoint::{FaultPlan, ListenerLimits, Options};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn put(h: &Harness, bucket: &str, key: &str, body: &[u8]) -> Result<(), String> {
    h.client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.as_service_error().and_then(|e| e.meta().code()).unwrap_or("no code").to_owned())
}

async fn get(h: &Harness, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let got = h.client.get_object().bucket(bucket).key(key).send().await.ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn list(h: &Harness, bucket: &str) -> Vec<String> {
    let listed = h.client.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Regression: `PUT input/../results/thumbnails/evil.jpg` wrote into the results bucket.
#[tokio::test]
async fn keys_with_dot_segments_stay_in_their_bucket() {
    let h = Harness::start(1 << 20).await;
    let escapes = ["../results-bucket/thumbnails/evil.jpg", "uploads/../../results-bucket/results/evil.json"];
    for key in escapes {
        put(&h, INPUT, key, b"evil").await.unwrap();
        assert_eq!(get(&h, INPUT, key).await.as_deref(), Some(&b"evil"[..]), "{key}");
    }
    for key in ["thumbnails/evil.jpg", "results/evil.json"] {
        assert!(!h.exists(RESULTS, key).await, "{key} escaped into the results bucket");
    }
    assert!(files(&h.dir.join(RESULTS)).is_empty(), "{:?}", files(&h.dir.join(RESULTS)));
    let mut listed = list(&h, INPUT).await;
    listed.sort();
    let mut expected: Vec<String> = escapes.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

/// Regression: the store's own files (event sequencer, s3s-fs metadata) were reachable by `../`.
#[tokio::test]
async fn store_files_are_not_reachable_through_keys() {
    let h = Harness::start(1 << 20).await;
    put(&h, INPUT, "uploads/a.jpg", b"jpeg").await.unwrap();
    let before = files(&h.dir);
    let internal: Vec<String> = before.iter().filter(|f| !f.starts_with(INPUT)).cloned().collect();
    assert!(!internal.is_empty(), "{before:?}");
    let sequencer = std::fs::read(h.dir.join(".s3-endpoint-sequencer")).unwrap();
    for file in &internal {
        let key = format!("../{file}");
        assert_eq!(get(&h, INPUT, &key).await, None, "{key} was readable");
        assert_eq!(get(&h, RESULTS, &key).await, None, "{key} was readable");
        // RESULTS is not notified, so these writes must not move the sequencer
        put(&h, RESULTS, &key, b"overwritten").await.unwrap();
    }
    assert_eq!(std::fs::read(h.dir.join(".s3-endpoint-sequencer")).unwrap(), sequencer);
    assert_eq!(get(&h, INPUT, "uploads/a.jpg").await.as_deref(), Some(&b"jpeg"[..]));
}

/// Keys S3 accepts are stored whatever the file system thinks of them; too long is KeyTooLongError.
#[tokio::test]
async fn any_key_s3_accepts_round_trips() {
    let h = Harness::start(1 << 20).await;
    let long = "k".repeat(1024);
    let keys = ["/abs/path", "a\u{0}b", "a", "a/b", "a/b/", "dir//x", ".", "..", "%2e%2e", "é/\u{202e}gpj.exe", &long];
    for (i, key) in keys.iter().enumerate() {
        put(&h, RESULTS, key, format!("body {i}").as_bytes()).await.unwrap_or_else(|e| panic!("{key:?}: {e}"));
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(get(&h, RESULTS, key).await, Some(format!("body {i}").into_bytes()), "{key:?}");
    }
    // as on S3, a control character needs encoding-type=url to be listed in XML 1.0
    let listed = h.client.list_objects_v2().bucket(RESULTS).encoding_type(EncodingType::Url).send().await.unwrap();
    let listed: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(listed.len(), keys.len(), "{listed:?}");
    assert!(listed.contains(&"a%00b") && listed.contains(&"%252e%252e") && listed.contains(&"/abs/path"), "{listed:?}");

    assert_eq!(put(&h, RESULTS, &"k".repeat(1025), b"x").await, Err("KeyTooLongError".into()));
    assert_eq!(put(&h, RESULTS, &"é".repeat(513), b"x").await, Err("KeyTooLongError".into()));

    h.client.delete_object().bucket(RESULTS).key("a\u{0}b").send().await.unwrap();
    assert_eq!(list(&h, RESULTS).await.len(), keys.len() - 1);
    let page = h.client.list_objects_v2().bucket(RESULTS).delimiter("/").max_keys(3).send().await.unwrap();
    let names: Vec<_> = page
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .chain(page.contents().iter().filter_map(|o| o.key()))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(page.is_truncated(), Some(true));
    assert!(page.contents().iter().all(|o| o.e_tag().is_some() && o.size().is_some()));
}

/// Regression: our form parser took a part's first Content-Disposition, s3s the last, so an
/// `x-ignore-` field outside the policy became the key s3s stored.
#[tokio::test]
async fn form_parts_with_repeated_headers_are_refused() {
    let mut h = Harness::start(1 << 20).await;
    let in_5_min = Utc::now() + ChronoDuration::minutes(5);
    let fields = signed_fields(INPUT, vec![json!(["starts-with", "$key", "uploads/"])], in_5_min, SECRET_KEY);
    let mut body = Vec::new();
    for (name, value) in fields.iter().chain([&("key".to_owned(), "uploads/ok.jpg".to_owned())]) {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        b"--B\r\nContent-Disposition: form-data; name=\"x-ignore-me\"\r\n\
          Content-Disposition: form-data; name=\"key\"\r\n\r\nescaped.jpg\r\n",
    );
    body.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nJPEG\r\n--B--\r\n");
    let response = reqwest::Client::new()
        .post(format!("{}/{INPUT}", h.url))
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!((status, error_code(&text)), (400, "MalformedPOSTRequest"), "{text}");
    assert!(!h.exists(INPUT, "escaped.jpg").await);
    assert!(!h.exists(INPUT, "uploads/ok.jpg").await);
    h.assert_no_event().await;
}

/// Regression: no configured origin meant `Access-Control-Allow-Origin: *` for everyone.
#[tokio::test]
async fn without_configured_origins_there_is_no_cors() {
    let mut config = config(fresh_dir(), 1 << 20);
    config.allowed_origins = vec![];
    let h = Harness::start_with(config, Options::default()).await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/{INPUT}", h.url))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 403);
    assert!(preflight.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
    let get = http.get(format!("{}/{INPUT}/x", h.url)).header("origin", "http://evil.example").send().await.unwrap();
    assert!(get.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
}

/// Regression: a half-sent request kept its connection open 45 s and more.
#[tokio::test]
async fn slow_clients_are_cut_off() {
    let limits = ListenerLimits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        max_connections: 4,
    };
    let h = Harness::start_with(config(fresh_dir(), 1 << 20), Options { limits, ..Options::default() }).await;
    let addr = h.url.trim_start_matches("http://").to_owned();
    let mut half_head = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half_head.write_all(b"PUT /input-bucket/x HTTP/1.1\r\nHost: x\r\nContent-Le").await.unwrap();
    let mut slow_form = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow_form
        .write_all(
            format!("POST /{INPUT} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 500\r\n\r\n--B")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    for stream in [&mut half_head, &mut slow_form, &mut silent] {
        let mut sink = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut sink)).await;
        assert!(closed.is_ok(), "connection still open after 3 s");
    }
}

#[tokio::test]
async fn only_loopback() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let result = s3_endpoint::start(config(fresh_dir(), 1 << 20), listener, tx).await;
    assert!(matches!(result, Err(s3_endpoint::Error::NotLoopback(_))));
}

#[tokio::test]
async fn sdk_retries_through_injected_faults() {
    let faults: FaultPlan = "rate=0.3,seed=2024".parse().unwrap();
    let mut h = Harness::start_with(config(fresh_dir(), 1 << 20), Options { faults, ..Options::default() }).await;
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&h.url)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(12).with_initial_backoff(Duration::from_millis(2)))
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    for i in 0..20 {
        let key = format!("uploads/{i}.jpg");
        let body = payload(1000 + i);
        client.put_object().bucket(INPUT).key(&key).body(ByteStream::from(body.clone())).send().await.unwrap();
        let got = client.get_object().bucket(INPUT).key(&key).send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), body);
    }
    let counts = h.endpoint.as_ref().unwrap().faults_injected();
    assert!(counts.slow_down > 0 && counts.internal_error > 0 && counts.dropped_connection > 0, "{counts:?}");
    // a retried PUT stores one object; each successful PUT is one event
    let mut events = 0;
    while let Ok(event) = h.events.try_recv() {
        assert!(event.key.starts_with("uploads/"));
        events += 1;
    }
    assert_eq!(events, 20);
}
