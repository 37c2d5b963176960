//! What the browser does: signed POST uploads (multipart/form-data with a policy) and CORS;
//! plus raw HTTP for bodies that are too large or malformed.

mod common;

use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX: u64 = 256 * 1024;

/// The conditions the product's presigner puts in a policy for one upload.
fn product_conditions(key: &str) -> Vec<Value> {
    vec![
        json!(["eq", "$key", key]),
        json!(["eq", "$Content-Type", "image/jpeg"]),
        json!(["content-length-range", 10, 100_000]),
    ]
}

fn good_fields(key: &str) -> Vec<(String, String)> {
    let mut fields = signed_fields(INPUT, product_conditions(key), Utc::now() + ChronoDuration::minutes(5), SECRET_KEY);
    fields.insert(0, ("key".into(), key.into()));
    fields.insert(1, ("Content-Type".into(), "image/jpeg".into()));
    fields
}

#[tokio::test]
async fn signed_post_upload_stores_the_object_and_emits_an_event() {
    let mut h = Harness::start(MAX).await;
    let file = payload(54_321);
    let (status, body) = post_form(&h.url, INPUT, &good_fields("uploads/abc.jpg"), file.clone()).await;
    assert_eq!(status, 204, "{body}");

    let event = h.event().await;
    assert_eq!(
        (event.bucket.as_str(), event.key.as_str(), event.reason.as_str()),
        (INPUT, "uploads/abc.jpg", "PostObject")
    );
    assert_eq!(event.size, 54_321);
    let head = h.client.head_object().bucket(INPUT).key("uploads/abc.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.content_length(), Some(54_321));
    assert_eq!(event.etag, head.e_tag().unwrap().trim_matches('"'));
    let stored = h.client.get_object().bucket(INPUT).key("uploads/abc.jpg").send().await.unwrap();
    assert_eq!(stored.body.collect().await.unwrap().into_bytes().to_vec(), file);
    h.assert_no_event().await;
}

#[tokio::test]
async fn starts_with_policies_and_success_action_status_work() {
    let mut h = Harness::start(MAX).await;
    let conditions = vec![
        json!(["starts-with", "$key", "uploads/"]),
        json!(["starts-with", "$Content-Type", "image/"]),
        json!({ "success_action_status": "201" }),
        json!(["starts-with", "$x-amz-meta-owner", ""]),
    ];
    let mut fields = signed_fields(INPUT, conditions, Utc::now() + ChronoDuration::minutes(5), SECRET_KEY);
    for (name, value) in [
        ("key", "uploads/x.png"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
        ("x-amz-meta-owner", "ann"),
        ("x-ignore-note", "anything"),
    ] {
        set(&mut fields, name, value);
    }
    let (status, body) = post_form(&h.url, INPUT, &fields, payload(100)).await;
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("<Key>uploads/x.png</Key>"), "{body}");
    let event = h.event().await;
    assert_eq!((event.key.as_str(), event.size), ("uploads/x.png", 100));
    let head = h.client.head_object().bucket(INPUT).key("uploads/x.png").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.metadata().and_then(|m| m.get("owner")).map(String::as_str), Some("ann"));
}

/// Each refused upload: status and code as S3 answers, nothing stored, no event.
/// What is sent and what S3 answers: name, form fields, file, status, error code.
type RefusedCase = (&'static str, Vec<(String, String)>, Vec<u8>, u16, &'static str);

#[tokio::test]
async fn refused_uploads_store_nothing_and_emit_nothing() {
    let mut h = Harness::start(MAX).await;
    let key = "uploads/refused.jpg";
    let in_5_min = Utc::now() + ChronoDuration::minutes(5);
    let ok_file = || payload(1000);

    let mut cases: Vec<RefusedCase> = Vec::new();

    let mut tampered_signature = good_fields(key);
    let sig = tampered_signature.iter_mut().find(|(n, _)| n == "x-amz-signature").unwrap();
    sig.1 = sig.1.chars().rev().collect();
    cases.push(("tampered signature", tampered_signature, ok_file(), 403, "SignatureDoesNotMatch"));

    let mut tampered_policy = good_fields(key);
    let other = signed_fields(
        INPUT,
        vec![json!(["starts-with", "$key", ""]), json!(["starts-with", "$Content-Type", ""])],
        in_5_min,
        SECRET_KEY,
    );
    set(&mut tampered_policy, "policy", &other.iter().find(|(n, _)| n == "policy").unwrap().1);
    cases.push(("tampered policy", tampered_policy, ok_file(), 403, "SignatureDoesNotMatch"));

    let mut wrong_secret = signed_fields(INPUT, product_conditions(key), in_5_min, "wrong-secret");
    set(&mut wrong_secret, "key", key);
    set(&mut wrong_secret, "Content-Type", "image/jpeg");
    cases.push(("signed with another secret", wrong_secret, ok_file(), 403, "SignatureDoesNotMatch"));

    let mut expired =
        signed_fields(INPUT, product_conditions(key), Utc::now() - ChronoDuration::seconds(1), SECRET_KEY);
    set(&mut expired, "key", key);
    set(&mut expired, "Content-Type", "image/jpeg");
    cases.push(("expired policy", expired, ok_file(), 403, "AccessDenied"));

    let mut wrong_type = good_fields(key);
    set(&mut wrong_type, "Content-Type", "text/html");
    cases.push(("wrong content type", wrong_type, ok_file(), 403, "AccessDenied"));

    let mut no_type = good_fields(key);
    no_type.retain(|(n, _)| n != "Content-Type");
    cases.push(("missing content type", no_type, ok_file(), 403, "AccessDenied"));

    cases.push(("over content-length-range", good_fields(key), payload(100_001), 400, "EntityTooLarge"));
    cases.push(("under content-length-range", good_fields(key), payload(9), 400, "EntityTooSmall"));

    let mut other_key = good_fields(key);
    set(&mut other_key, "key", "uploads/other.jpg");
    cases.push(("key not eq", other_key, ok_file(), 403, "AccessDenied"));

    let mut prefix = signed_fields(
        INPUT,
        vec![json!(["starts-with", "$key", "uploads/"]), json!(["eq", "$Content-Type", "image/jpeg"])],
        in_5_min,
        SECRET_KEY,
    );
    set(&mut prefix, "key", "results/refused.jpg");
    set(&mut prefix, "Content-Type", "image/jpeg");
    cases.push(("key not starts-with", prefix.clone(), ok_file(), 403, "AccessDenied"));

    let mut extra = good_fields(key);
    set(&mut extra, "acl", "public-read");
    cases.push(("extra unsigned field", extra, ok_file(), 403, "AccessDenied"));

    let mut meta = good_fields(key);
    set(&mut meta, "x-amz-meta-owner", "mallory");
    cases.push(("extra unsigned metadata", meta, ok_file(), 403, "AccessDenied"));

    let mut big_policy = signed_fields(
        INPUT,
        vec![json!(["starts-with", "$key", ""]), json!(["content-length-range", 0, 10 * MAX])],
        in_5_min,
        SECRET_KEY,
    );
    set(&mut big_policy, "key", key);
    cases.push((
        "over max_upload_bytes though the policy allows it",
        big_policy,
        payload(MAX as usize + 1),
        400,
        "EntityTooLarge",
    ));

    let mut no_policy = good_fields(key);
    no_policy.retain(|(n, _)| !n.starts_with("x-amz-") && n != "policy");
    cases.push(("anonymous (no policy)", no_policy, ok_file(), 403, "AccessDenied"));

    let mut no_key = good_fields(key);
    no_key.retain(|(n, _)| n != "key");
    cases.push(("missing key", no_key, ok_file(), 400, "InvalidArgument"));

    let mut bad_b64 = good_fields(key);
    set(&mut bad_b64, "policy", "###");
    let sig = post_signature(SECRET_KEY, &Utc::now().format("%Y%m%d").to_string(), REGION, "###");
    set(&mut bad_b64, "x-amz-signature", &sig);
    cases.push(("policy not base64", bad_b64, ok_file(), 400, "InvalidPolicyDocument"));

    let mut bad_json = good_fields(key);
    let b64 = base64_of("{\"expiration\": 12, \"conditions\": [");
    let sig = post_signature(SECRET_KEY, &Utc::now().format("%Y%m%d").to_string(), REGION, &b64);
    set(&mut bad_json, "policy", &b64);
    set(&mut bad_json, "x-amz-signature", &sig);
    cases.push(("policy not JSON", bad_json, ok_file(), 400, "InvalidPolicyDocument"));

    for (name, fields, file, status, code) in cases {
        let (got_status, body) = post_form(&h.url, INPUT, &fields, file).await;
        assert_eq!((got_status, error_code(&body)), (status, code), "{name}: {body}");
        assert!(body.starts_with("<?xml"), "{name}: {body}");
    }
    assert!(!h.exists(INPUT, key).await);
    assert!(!h.exists(INPUT, "uploads/other.jpg").await);
    assert!(!h.exists(INPUT, "results/refused.jpg").await);
    h.assert_no_event().await;

    // the same policy still works when the form is right
    set(&mut prefix, "key", "uploads/fine.jpg");
    let (status, body) = post_form(&h.url, INPUT, &prefix, ok_file()).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(h.event().await.key, "uploads/fine.jpg");
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn cors_preflight_is_answered_and_responses_carry_cors_headers() {
    let h = Harness::start(MAX).await;
    let http = reqwest::Client::new();
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{}/{INPUT}", h.url))
        .header("origin", "http://127.0.0.1:7777")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 200);
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "http://127.0.0.1:7777");
    assert!(headers["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert!(headers["access-control-allow-headers"].to_str().unwrap().contains("content-type"));
    assert!(headers["access-control-expose-headers"].to_str().unwrap().contains("ETag"));

    let foreign = http
        .request(reqwest::Method::OPTIONS, format!("{}/{INPUT}", h.url))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403);
    assert!(foreign.headers().get("access-control-allow-origin").is_none());

    // an actual (refused) upload from the page still carries the header, so the page can read the error
    let response = http
        .post(format!("{}/{INPUT}", h.url))
        .header("origin", "http://127.0.0.1:7777")
        .multipart(
            reqwest::multipart::Form::new().text("key", "k").part("file", reqwest::multipart::Part::bytes(vec![1, 2])),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(response.headers()["access-control-allow-origin"], "http://127.0.0.1:7777");
}

/// Sends raw bytes and returns the response head and body (until the server closes or 5 s).
async fn raw_exchange(url: &str, request: &[u8]) -> String {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn declared_oversize_is_refused_before_the_body_is_sent() {
    let mut h = Harness::start(MAX).await;
    for (method, content_type) in [("POST", "multipart/form-data; boundary=xyz"), ("PUT", "image/jpeg")] {
        let path = if method == "POST" { format!("/{INPUT}") } else { format!("/{INPUT}/uploads/huge") };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: {content_type}\r\ncontent-length: 10000000000\r\n\r\n",
            h.url.trim_start_matches("http://")
        );
        // only the head is sent; the answer must come without waiting for 10 GB
        let started = std::time::Instant::now();
        let response = raw_exchange(&h.url, head.as_bytes()).await;
        assert!(started.elapsed() < Duration::from_secs(4), "{method}: server waited for the body");
        assert!(response.starts_with("HTTP/1.1 400"), "{method}: {response}");
        assert_eq!(error_code(&response), "EntityTooLarge", "{method}: {response}");
    }
    h.assert_no_event().await;
}

#[tokio::test]
async fn streamed_post_body_is_cut_off_past_the_limit() {
    let mut h = Harness::start(MAX).await;
    let addr = h.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /{INPUT} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=xyz\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // keep streaming (up to 64 MiB) until the server stops listening
    let sender = tokio::spawn(async move {
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent: u64 = 0;
        while sent < 64 << 20 {
            let frame = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk.clone(), b"\r\n".to_vec()].concat();
            if writer.write_all(&frame).await.is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert_eq!(error_code(&response), "EntityTooLarge");
    let sent = tokio::time::timeout(Duration::from_secs(10), sender).await.expect("sender still running").unwrap();
    assert!(sent < 64 << 20, "the server read the whole 64 MiB stream");
    h.assert_no_event().await;
}

#[tokio::test]
async fn malformed_forms_get_s3_errors_not_crashes() {
    let h = Harness::start(MAX).await;
    let addr = h.url.trim_start_matches("http://").to_owned();
    let bodies: [&[u8]; 5] = [
        b"this is not multipart",
        b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--xyz--\r\n",
        b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk",
        b"--xyz\r\nno-colon-header\r\n\r\nk\r\n--xyz--\r\n",
        b"--xyz\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n\xff\xfe\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--xyz--\r\n",
    ];
    for body in bodies {
        let head = format!(
            "POST /{INPUT} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=xyz\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let response = raw_exchange(&h.url, &[head.as_bytes(), body].concat()).await;
        assert!(response.starts_with("HTTP/1.1 400"), "{}: {response}", String::from_utf8_lossy(body));
        assert!(["MalformedPOSTRequest", "InvalidArgument"].contains(&error_code(&response)), "{response}");
    }
    // the server is still fine
    assert!(!h.exists(INPUT, "k").await);
}
