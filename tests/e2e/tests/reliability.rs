//! "Nothing lost" in the test suite: small, fast versions of `bench/load.sh`'s crash and fault
//! runs against the real `imgpipe serve` (its embedded S3 and DynamoDB, the engine, the model).
//! Each upload must end final with exactly one image item, and the label items must match the
//! records, read back through the API as a client would.
//!
//! Needs: `cargo build -p imgpipe --bins`, the model (scripts/fetch-model.sh) and
//! IMGPIPE_TEST_PHOTOS (tests/fixtures/photos.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use imgpipe_e2e::serve::{test_photo, Server, TempDir};
use serde_json::{json, Value};

/// How long one image may take to reach a final status (2 shared cores, a real model).
const FINAL: Duration = Duration::from_secs(240);
/// Fast retries: the state machine's IntervalSeconds 2 becomes 20 ms.
const FAST: (&str, &str) = ("IMGPIPE_TIME_SCALE", "0.01");
/// The reconciler leaves PENDING records alone for an hour: only the engine can finish them.
const NO_RECONCILER: (&str, &str) = ("RECONCILE_AFTER_SECONDS", "3600");
/// How often a client call is tried when the API or S3 answers 5xx or drops the connection.
const ATTEMPTS: u32 = 10;

/// Real photos, each uploaded twice: (file name, bytes).
fn photos() -> Vec<(String, Vec<u8>)> {
    let names = ["chelsea.png", "coffee.png", "astronaut.png"];
    let files: Vec<(String, Vec<u8>)> =
        names.iter().map(|n| (n.to_string(), std::fs::read(test_photo(n)).expect("read photo"))).collect();
    files.iter().chain(files.iter()).cloned().collect()
}

/// A client call retried as a careful page retries: on a dropped connection or a 5xx.
async fn send_retrying(make: impl Fn() -> reqwest::RequestBuilder) -> (u16, String) {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        match make().send().await {
            Ok(resp) if resp.status().as_u16() < 500 => {
                let status = resp.status().as_u16();
                return (status, resp.text().await.unwrap_or_default());
            }
            Ok(resp) => last = format!("{} {}", resp.status(), resp.text().await.unwrap_or_default()),
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
    }
    panic!("no answer after {ATTEMPTS} attempts: {last}");
}

/// `POST /uploads`, then the signed multipart POST (the same form again after a 5xx or a dropped
/// connection, as S3 clients retry); the image id.
async fn upload(server: &Server, filename: &str, bytes: &[u8]) -> String {
    let request = json!({ "filename": filename, "contentType": "image/png", "size": bytes.len() });
    let (status, body) = send_retrying(|| server.api(reqwest::Method::POST, "/uploads").json(&request)).await;
    assert_eq!(status, 201, "POST /uploads: {body}");
    let presigned: Value = serde_json::from_str(&body).expect("presign JSON");
    let url = presigned["upload"]["url"].as_str().expect("upload.url").to_string();
    let fields: Vec<(String, String)> = presigned["upload"]["fields"]
        .as_object()
        .expect("upload.fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string field").to_string()))
        .collect();
    let form = || {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in &fields {
            form = form.text(name.clone(), value.clone());
        }
        let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(filename.to_string());
        form.part("file", part.mime_str("image/png").expect("mime"))
    };
    let (status, body) = send_retrying(|| server.http().post(&url).multipart(form())).await;
    assert!((200..300).contains(&status), "signed upload of {filename}: {status} {body}");
    presigned["imageId"].as_str().expect("imageId").to_string()
}

/// GET an API path, retried on 5xx and dropped connections; the JSON body, asserting 200.
async fn get(server: &Server, path: &str) -> Value {
    let (status, body) = send_retrying(|| server.api(reqwest::Method::GET, path)).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Polls the record until it is final.
async fn wait_final(server: &Server, id: &str) -> Value {
    let deadline = std::time::Instant::now() + FINAL;
    loop {
        let record = get(server, &format!("/images/{id}")).await;
        if matches!(record["status"].as_str(), Some("DONE" | "REJECTED" | "FAILED")) {
            return record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} not final after {FINAL:?}: {record}\n{}",
            server.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every page of a list path (`/images?...`): the image ids in order, repeats included.
async fn list_ids(server: &Server, path: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page_path = match &cursor {
            Some(c) => format!("{path}&cursor={}", urlencode(c)),
            None => path.to_string(),
        };
        let page = get(server, &page_path).await;
        ids.extend(
            page["items"].as_array().expect("items").iter().filter_map(|i| i["imageId"].as_str()).map(String::from),
        );
        cursor = page["cursor"].as_str().map(String::from);
        if cursor.is_none() {
            return ids;
        }
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One image item per upload and, for every label the records carry, exactly one label item per
/// image that has it: read back through `GET /images` and `GET /images?label=`.
async fn assert_one_record_each(server: &Server, records: &BTreeMap<String, Value>) {
    let listed = list_ids(server, "/images?limit=4").await;
    let distinct: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(listed.len(), distinct.len(), "an image is listed twice: {listed:?}");
    assert_eq!(distinct, records.keys().collect(), "one image item per upload");

    let mut by_label: BTreeMap<String, BTreeSet<&String>> = BTreeMap::new();
    for (id, record) in records {
        for label in record["labels"].as_array().into_iter().flatten() {
            let name = label["name"].as_str().expect("label name").to_lowercase();
            by_label.entry(name).or_default().insert(id);
        }
    }
    assert!(!by_label.is_empty(), "the photos got no labels at all: {records:?}");
    for (label, ids) in &by_label {
        let found = list_ids(server, &format!("/images?label={}&minConfidence=0&limit=4", urlencode(label))).await;
        let distinct: BTreeSet<&String> = found.iter().collect();
        assert_eq!(found.len(), distinct.len(), "label {label}: an image has two label items: {found:?}");
        assert_eq!(&distinct, ids, "label {label}: label items vs records");
    }
}

/// Can fail: if executions did not survive the kill (they live only in memory, or their
/// history is not written before a step's effects), the uploads in flight at the kill stay
/// PENDING and `wait_final` times out (the reconciler, which would start them anew, is held off
/// for an hour here, so this checks the engine's own durability); if a resumed execution re-ran
/// Persist non-idempotently (a new item, or label items added on top of the old ones), the
/// read-back finds duplicates.
#[tokio::test]
async fn uploads_in_flight_at_a_kill_9_all_end_final_with_one_record_each() {
    let dir = TempDir::new("reliability-kill");
    let data = dir.join("data");
    // One step at a time, so most uploads are still queued or running at the kill.
    let mut server = Server::signed_in(&data, &[FAST, NO_RECONCILER], &["--max-tasks", "1"]).await;
    let mut ids = Vec::new();
    for (name, bytes) in photos() {
        ids.push(upload(&server, &name, &bytes).await);
    }
    // Kill as soon as the first upload is final: the rest are mid-flight.
    let mut first_final = None;
    let deadline = std::time::Instant::now() + FINAL;
    while first_final.is_none() {
        assert!(std::time::Instant::now() < deadline, "no upload final within {FINAL:?}\n{}", server.log_tail(60));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for id in &ids {
            let record = get(&server, &format!("/images/{id}")).await;
            if record["status"] != "PENDING" {
                first_final = Some(record);
                break;
            }
        }
    }
    let mut pending = 0;
    for id in &ids {
        pending += usize::from(get(&server, &format!("/images/{id}")).await["status"] == "PENDING");
    }
    server.kill9();
    assert!(pending >= 2, "precondition: uploads still in flight at the kill ({pending}); first: {first_final:?}");
    drop(server);

    let server = Server::signed_in(&data, &[FAST, NO_RECONCILER], &[]).await;
    let mut records = BTreeMap::new();
    for id in &ids {
        let record = wait_final(&server, id).await;
        assert_eq!(record["status"], "DONE", "a photo in flight at the kill ends DONE: {record}");
        records.insert(id.clone(), record);
    }
    assert_one_record_each(&server, &records).await;
}

/// Can fail: every call to S3 or DynamoDB (the steps', the API's, the signed upload's) has a
/// 15% chance of a 503 SlowDown, 500 InternalError, ProvisionedThroughputExceededException,
/// ThrottlingException or a dropped connection. Without the SDK's retries the server cannot even
/// create its table (tried by hand with `RetryConfig::disabled()`: the start fails every time),
/// and a step of several calls would fail most of the time. With them about 0.3% of calls still
/// fail after three attempts, which the state machine's Retry absorbs (its own test:
/// `serve.rs::retryable_faults_are_retried_until_done`). A retry that wrote twice (a second
/// image item, label items added again) fails the read-back. The test also checks that faults
/// were really injected into both endpoints.
#[tokio::test]
async fn uploads_through_s3_and_dynamodb_faults_all_end_done_without_duplicates() {
    let dir = TempDir::new("reliability-faults");
    let data = dir.join("data");
    let env = [
        FAST,
        ("IMGPIPE_S3_FAULTS", "rate=0.15,seed=41"),
        ("IMGPIPE_DYNAMODB_FAULTS", "rate=0.15,kinds=throughput+throttling+internal+drop,seed=42"),
    ];
    let mut server = Server::signed_in(&data, &env, &[]).await;
    let mut ids = Vec::new();
    for (name, bytes) in photos() {
        ids.push(upload(&server, &name, &bytes).await);
    }
    let mut records = BTreeMap::new();
    for id in &ids {
        let record = wait_final(&server, id).await;
        assert_eq!(record["status"], "DONE", "faults are retried until DONE: {record}");
        records.insert(id.clone(), record);
    }
    assert_one_record_each(&server, &records).await;

    server.stop();
    let log = server.log_tail(400);
    let injected = log
        .lines()
        .find(|l| l.contains("dependency faults injected"))
        .unwrap_or_else(|| panic!("the server logs the faults it injected at its stop; log:\n{}", server.log_tail(40)));
    let (s3, dynamodb) = injected.split_once("dynamodb=").expect("both endpoints' counts");
    // `s3=FaultCounts { slow_down: 4, internal_error: 2, .. }`: the numbers after each ": ".
    let total = |text: &str| -> u64 {
        text.split(": ")
            .skip(1)
            .filter_map(|n| n.split(|c: char| !c.is_ascii_digit()).next()?.parse::<u64>().ok())
            .sum()
    };
    assert!(total(s3) >= 3 && total(dynamodb) >= 3, "faults were injected into both: {injected}");
}

#[tokio::test]
async fn a_bad_fault_plan_stops_the_start_with_the_variable_named() {
    let dir = TempDir::new("reliability-bad-plan");
    for (variable, plan) in [("IMGPIPE_S3_FAULTS", "rate=5%"), ("IMGPIPE_DYNAMODB_FAULTS", "rate=0.1,kinds=slowdown")] {
        let out = imgpipe_e2e::serve::imgpipe_command()
            .args(["serve", "--port", "0", "--data"])
            .arg(dir.join("data"))
            .env(variable, plan)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run imgpipe serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{variable}={plan} must stop the start: {stderr}");
        assert!(stderr.contains(variable) && stderr.contains("invalid fault plan"), "{variable}={plan}: {stderr}");
    }
}
