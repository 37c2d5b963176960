//! imgpipe-core's AWS code against the real embedded S3 (`s3-endpoint`) and DynamoDB (dynoxide)
//! servers: signed uploads, the presign API, idempotent persist, and the label/recent queries.

use std::collections::HashSet;
use std::time::Duration;

use imgpipe_core::model::{BucketRef, ObjectCreatedDetail, ObjectRef};
use imgpipe_core::{Config, StepFunction};
use imgpipe_e2e::callers::signed_in;
use imgpipe_e2e::endpoints::{self, execution_arn, validate_input, Endpoints, INPUT_BUCKET, OUTPUT_BUCKET, TEST_OWNER};
use imgpipe_e2e::images;
use serde_json::{json, Value};

/// Serves the whole API over `endpoints` with `config` on loopback, every request signed in as
/// [`TEST_OWNER`], the owner of the records the tests make.
async fn api(endpoints: &Endpoints, config: Config) -> String {
    let router = imgpipe_core::http::router(endpoints.api_state(config));
    endpoints::serve(signed_in(router, Some(TEST_OWNER))).await
}

async fn post_json(url: &str, body: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get_json(url: &str) -> (u16, Value) {
    let res = reqwest::get(url).await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Asks the API for a signed upload of `size` bytes of `content_type`.
async fn presign(api: &str, filename: &str, content_type: &str, size: usize) -> Value {
    let body = json!({ "filename": filename, "contentType": content_type, "size": size }).to_string();
    let (status, doc) = post_json(&format!("{api}/uploads"), &body).await;
    assert_eq!(status, 201, "presign answered {doc}");
    doc
}

/// POSTs a multipart form to S3 as a browser would: the signed fields in order, then `file`.
/// `edit` may change fields before sending. Returns the status and the response body.
async fn upload(signed: &Value, file: Vec<u8>, edit: impl FnOnce(&mut Vec<(String, String)>)) -> (u16, String) {
    let mut fields: Vec<(String, String)> = signed["upload"]["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    edit(&mut fields);
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k, v);
    }
    form = form.part("file", reqwest::multipart::Part::bytes(file).file_name("photo.jpg"));
    let res =
        reqwest::Client::new().post(signed["upload"]["url"].as_str().unwrap()).multipart(form).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap_or_default())
}

fn set_field(fields: &mut [(String, String)], name: &str, value: impl FnOnce(&str) -> String) {
    let field = fields.iter_mut().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name} field"));
    field.1 = value(&field.1);
}

#[tokio::test]
async fn signed_upload_is_accepted_and_announced() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep, ep.config()).await;
    let photo = images::jpeg(640, 480);
    let signed = presign(&api, "holiday.jpg", "image/jpeg", photo.len()).await;

    let id = signed["imageId"].as_str().unwrap().to_string();
    assert!(imgpipe_core::model::is_image_id(&id), "imageId {id}");
    let key = format!("uploads/{id}.jpg");
    assert_eq!(signed["key"], key.as_str());
    assert_eq!(signed["upload"]["url"], format!("{}/{INPUT_BUCKET}", ep.s3_url).as_str());
    for field in
        ["key", "Content-Type", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"]
    {
        assert!(signed["upload"]["fields"][field].is_string(), "missing {field} in {signed}");
    }
    let expires = chrono::DateTime::parse_from_rfc3339(signed["expiresAt"].as_str().unwrap()).unwrap();
    let ttl = expires.signed_duration_since(chrono::Utc::now()).num_seconds();
    assert!((250..=300).contains(&ttl), "expiresAt {expires} is not ~300 s ahead");

    // The PENDING record exists before the upload.
    let (status, record) = get_json(&format!("{api}/images/{id}")).await;
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["status"], "PENDING");
    assert_eq!(record["filename"], "holiday.jpg");
    assert_eq!(record["contentType"], "image/jpeg");

    let (status, body) = upload(&signed, photo.clone(), |_| {}).await;
    assert!((200..300).contains(&status), "signed upload refused: {status} {body}");

    let event = ep.next_event(Duration::from_secs(5)).await.expect("an Object Created event");
    assert_eq!(event.bucket, INPUT_BUCKET);
    assert_eq!(event.key, key);
    assert_eq!(event.size, photo.len() as u64);
    assert_eq!(event.reason, "PostObject");
    assert_eq!(ep.get_object(INPUT_BUCKET, &key).await.as_deref(), Some(photo.as_slice()));
}

#[tokio::test]
async fn tampered_expired_oversized_and_mistyped_uploads_are_refused() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep, ep.config()).await;
    let short_lived = api_with_ttl(&ep, 1).await;
    let photo = images::jpeg(320, 240);

    let tampered = presign(&api, "a.jpg", "image/jpeg", photo.len()).await;
    let (status, body) = upload(&tampered, photo.clone(), |f| {
        set_field(f, "x-amz-signature", |s| {
            let flipped = if s.ends_with('0') { '1' } else { '0' };
            format!("{}{flipped}", &s[..s.len() - 1])
        })
    })
    .await;
    assert_eq!(status, 403, "tampered signature: {body}");
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");

    let expired = presign(&short_lived, "b.jpg", "image/jpeg", photo.len()).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = upload(&expired, photo.clone(), |_| {}).await;
    assert_eq!(status, 403, "expired policy: {body}");
    assert!(body.to_lowercase().contains("expired"), "{body}");

    let oversized = presign(&api, "c.jpg", "image/jpeg", photo.len()).await;
    let mut bigger = photo.clone();
    bigger.push(0);
    let (status, body) = upload(&oversized, bigger, |_| {}).await;
    assert_eq!(status, 400, "one byte over the declared size: {body}");
    assert!(body.contains("EntityTooLarge"), "{body}");

    let undersized = presign(&api, "c2.jpg", "image/jpeg", photo.len()).await;
    let (status, body) = upload(&undersized, photo[..photo.len() - 1].to_vec(), |_| {}).await;
    assert_eq!(status, 400, "one byte under the declared size: {body}");
    assert!(body.contains("EntityTooSmall"), "{body}");

    let mistyped = presign(&api, "d.jpg", "image/jpeg", photo.len()).await;
    let (status, body) =
        upload(&mistyped, photo.clone(), |f| set_field(f, "Content-Type", |_| "image/png".into())).await;
    assert_eq!(status, 403, "content type changed: {body}");

    // A different key than the signed one is refused too.
    let moved = presign(&api, "e.jpg", "image/jpeg", photo.len()).await;
    let (status, body) = upload(&moved, photo.clone(), |f| set_field(f, "key", |_| "uploads/evil.jpg".into())).await;
    assert_eq!(status, 403, "key changed: {body}");

    for signed in [&tampered, &expired, &oversized, &undersized, &mistyped, &moved] {
        let key = signed["key"].as_str().unwrap();
        assert_eq!(ep.get_object(INPUT_BUCKET, key).await, None, "{key} was stored");
    }
    assert_eq!(ep.get_object(INPUT_BUCKET, "uploads/evil.jpg").await, None);
    assert_eq!(ep.next_event(Duration::from_millis(300)).await, None, "a refused upload was announced");
}

async fn api_with_ttl(ep: &Endpoints, ttl: u64) -> String {
    api(ep, Config { upload_ttl_seconds: ttl, ..ep.config() }).await
}

#[tokio::test]
async fn presign_refuses_bad_requests() {
    let ep = Endpoints::start().await;
    let api = api(&ep, ep.config()).await;
    let url = format!("{api}/uploads");
    let max = ep.config().limits.max_bytes;
    let cases = [
        (json!({"filename": "a.heic", "contentType": "image/heic", "size": 10}).to_string(), "UNSUPPORTED_TYPE"),
        (json!({"filename": "a.txt", "contentType": "text/plain", "size": 10}).to_string(), "UNSUPPORTED_TYPE"),
        (json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 0}).to_string(), "EMPTY"),
        (json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": max + 1}).to_string(), "TOO_LARGE"),
        (json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": -5}).to_string(), "BAD_REQUEST"),
        (json!({"filename": "", "contentType": "image/jpeg", "size": 10}).to_string(), "BAD_REQUEST"),
        (json!({"filename": "a.jpg", "size": 10}).to_string(), "BAD_REQUEST"),
        (json!({"contentType": "image/jpeg", "size": 10}).to_string(), "BAD_REQUEST"),
        ("{\"filename\": \"a.jpg\",".to_string(), "BAD_REQUEST"),
        ("not json at all".to_string(), "BAD_REQUEST"),
    ];
    for (body, code) in cases {
        let (status, doc) = post_json(&url, &body).await;
        assert_eq!(status, 400, "{body} -> {doc}");
        assert_eq!(doc["error"]["code"], code, "{body} -> {doc}");
        assert!(doc["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{doc}");
    }
    // Exactly the limit is fine.
    let ok = presign(&api, "big.jpg", "image/jpeg", max as usize).await;
    assert!(ok["imageId"].is_string());
    // Only that one request left a record.
    assert_eq!(ep.scan_table().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Persist

fn labels_json(labels: &[(&str, f32)]) -> Value {
    let labels: Vec<Value> = labels
        .iter()
        .map(|(name, confidence)| {
            json!({
                "name": name, "confidence": confidence, "parents": ["Animal"], "aliases": [], "categories": ["Animals and Pets"],
                "instances": [{"confidence": confidence, "boundingBox": {"left": 0.1, "top": 0.2, "width": 0.5, "height": 0.4}}]
            })
        })
        .collect();
    json!({ "source": "rekognition", "modelVersion": "3.0", "labels": labels })
}

/// A DONE input as the state machine's Persist state builds it.
fn done_input(detail: &ObjectCreatedDetail, image: &Value, labels: &Value, thumbnails: &Value) -> Value {
    json!({
        "status": "DONE", "detail": detail, "image": image, "labels": labels, "thumbnails": thumbnails,
        "executionId": execution_arn(detail), "startedAt": chrono::Utc::now().to_rfc3339(),
    })
}

fn failed_input(status: &str, detail: &ObjectCreatedDetail, error: &str, cause: &Value) -> Value {
    json!({
        "status": status, "detail": detail, "error": {"Error": error, "Cause": cause.to_string()},
        "executionId": execution_arn(detail), "startedAt": chrono::Utc::now().to_rfc3339(),
    })
}

/// Items that belong to image `id`: (image items, label items).
async fn items_of(ep: &Endpoints, id: &str) -> (usize, Vec<Value>) {
    let all = ep.scan_table().await;
    let all: Vec<Value> = all.iter().map(imgpipe_core::table::attr::item_to_json).collect();
    let images = all.iter().filter(|i| i["PK"] == format!("IMAGE#{id}").as_str()).count();
    let labels = all
        .into_iter()
        .filter(|i| i["PK"].as_str().is_some_and(|pk| pk.contains("#LABEL#")) && i["imageId"] == id)
        .collect();
    (images, labels)
}

#[tokio::test]
async fn persist_is_idempotent_and_a_late_failure_never_overwrites_done() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    // Real step outputs: the uploaded JPEG validated and thumbnailed by the core steps.
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let labels = labels_json(&[("Dog", 98.25), ("Animal", 97.0), ("Grass", 70.5)]);
    let input = done_input(&detail, &image, &labels, &thumbnails);

    let first = pipeline.run(StepFunction::Persist, input.clone()).await.unwrap();
    assert_eq!(first["status"], "DONE");
    assert_eq!(first["written"], true);
    assert_eq!(first["pk"], format!("IMAGE#{id}").as_str());
    assert_eq!(first["resultKey"], format!("results/{id}.json").as_str());
    let stored = ep.image_item(&id).await.unwrap();
    let updated_at = stored["updatedAt"].clone();

    let again = pipeline.run(StepFunction::Persist, input).await.unwrap();
    assert_eq!(again["written"], false, "a duplicate DONE was rewritten: {again}");
    let (images, label_items) = items_of(&ep, &id).await;
    assert_eq!(images, 1);
    assert_eq!(label_items.len(), 3, "{label_items:?}");
    let names: HashSet<&str> = label_items.iter().filter_map(|l| l["label"].as_str()).collect();
    assert_eq!(names, HashSet::from(["Dog", "Animal", "Grass"]));
    assert_eq!(ep.scan_table().await.len(), 4, "nothing else is in the table");

    let stored = ep.image_item(&id).await.unwrap();
    assert_eq!(stored["updatedAt"], updated_at, "the duplicate touched the record");
    assert_eq!(stored["status"], "DONE");
    assert_eq!(stored["etag"], detail.object.etag.as_str());
    assert_eq!(stored["image"]["width"], 640);
    assert_eq!(stored["thumbnails"].as_array().unwrap().len(), 2);

    // The result document is in the output bucket.
    let result = ep.get_object(OUTPUT_BUCKET, &format!("results/{id}.json")).await.expect("results JSON");
    let result: Value = serde_json::from_slice(&result).unwrap();
    assert_eq!(result["imageId"], id.as_str());
    assert_eq!(result["status"], "DONE");
    assert_eq!(result["labels"]["labels"][0]["name"], "Dog");

    // A late FAILED for the same object version leaves the DONE record alone.
    let cause = json!({"errorType": "Retryable", "errorMessage": "detecting labels: throttled"});
    let late = pipeline.run(StepFunction::Persist, failed_input("FAILED", &detail, "Retryable", &cause)).await.unwrap();
    assert_eq!(late["written"], false, "{late}");
    let stored = ep.image_item(&id).await.unwrap();
    assert_eq!(stored["status"], "DONE");
    assert!(stored.get("error").is_none(), "{stored}");
    assert_eq!(items_of(&ep, &id).await.1.len(), 3);
}

#[tokio::test]
async fn persist_records_failures_and_a_final_record_is_never_replaced() {
    let ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = synthetic_detail(&ep, "etag-one").await;
    let cause = json!({"errorType": "Retryable", "errorMessage": "detecting labels: Rate exceeded"});
    let failed =
        pipeline.run(StepFunction::Persist, failed_input("FAILED", &detail, "Retryable", &cause)).await.unwrap();
    assert_eq!(failed["written"], true);
    assert_eq!(failed["status"], "FAILED");
    let stored = ep.image_item(&id).await.unwrap();
    assert_eq!(stored["status"], "FAILED");
    assert_eq!(stored["error"]["code"], "Retryable");
    assert_eq!(stored["error"]["message"], "detecting labels: Rate exceeded");
    assert!(stored.get("resultKey").is_none());
    assert_eq!(items_of(&ep, &id).await.1.len(), 0, "a failure has no label items");

    // A late outcome of another run (a duplicate that slipped past its claim) changes nothing.
    let done = done_input(&detail, &image_json(&id, &detail), &labels_json(&[("Cat", 88.0)]), &thumbs_json(&id));
    let record = pipeline.run(StepFunction::Persist, done).await.unwrap();
    assert_eq!(record["written"], false);
    let stored = ep.image_item(&id).await.unwrap();
    assert_eq!(stored["status"], "FAILED");
    let (images, labels) = items_of(&ep, &id).await;
    assert_eq!((images, labels.len()), (1, 0));

    // A rejection cause is stored as its machine code and sentence.
    let (rid, rdetail) = synthetic_detail(&ep, "etag-two").await;
    let cause = json!({"errorType": "ImageRejected", "errorMessage": "TOO_SMALL: The image is 10×10 pixels; each side must be at least 80 pixels."});
    pipeline.run(StepFunction::Persist, failed_input("REJECTED", &rdetail, "ImageRejected", &cause)).await.unwrap();
    let stored = ep.image_item(&rid).await.unwrap();
    assert_eq!(stored["status"], "REJECTED");
    assert_eq!(stored["error"]["code"], "TOO_SMALL");
    assert_eq!(stored["error"]["message"], "The image is 10×10 pixels; each side must be at least 80 pixels.");

    // A DONE without its parts, or for a key imgpipe did not generate, is a bug: InternalError.
    let bare = json!({"status": "DONE", "detail": detail});
    let err = pipeline.run(StepFunction::Persist, bare).await.unwrap_err();
    assert_eq!(err.error_type(), "InternalError");
    let mut foreign = detail.clone();
    foreign.object.key = "elsewhere/photo.jpg".into();
    let err =
        pipeline.run(StepFunction::Persist, failed_input("FAILED", &foreign, "X", &json!("y"))).await.unwrap_err();
    assert_eq!(err.error_type(), "InternalError");
}

/// An event detail for an object that was never uploaded (persist does not read it), with the
/// PENDING record presign would have made.
async fn synthetic_detail(ep: &Endpoints, etag: &str) -> (String, ObjectCreatedDetail) {
    let id = uuid::Uuid::new_v4().to_string();
    ep.pending(&id, &format!("uploads/{id}.jpg")).await;
    let detail = ObjectCreatedDetail {
        version: Some("0".into()),
        bucket: BucketRef { name: INPUT_BUCKET.into() },
        object: ObjectRef {
            key: format!("uploads/{id}.jpg"),
            size: 12345,
            etag: etag.into(),
            sequencer: Some("0001".into()),
            version_id: None,
        },
        request_id: None,
        requester: None,
        source_ip_address: None,
        reason: Some("PostObject".into()),
    };
    (id, detail)
}

fn image_json(id: &str, detail: &ObjectCreatedDetail) -> Value {
    json!({
        "id": id, "bucket": INPUT_BUCKET, "key": detail.object.key, "etag": detail.object.etag, "format": "jpeg",
        "contentType": "image/jpeg", "width": 640, "height": 480, "orientedWidth": 640, "orientedHeight": 480,
        "bytes": detail.object.size, "orientation": 1, "animated": false, "exif": {}
    })
}

fn thumbs_json(id: &str) -> Value {
    json!([
        {"size": 1024, "bucket": OUTPUT_BUCKET, "key": format!("thumbnails/{id}/1024.jpg"), "width": 640, "height": 480, "bytes": 20000, "format": "jpeg"},
        {"size": 256, "bucket": OUTPUT_BUCKET, "key": format!("thumbnails/{id}/256.jpg"), "width": 256, "height": 192, "bytes": 5000, "format": "jpeg"}
    ])
}

// ---------------------------------------------------------------------------------------------
// Queries

#[tokio::test]
async fn label_query_filters_orders_and_pages() {
    let ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let api = api(&ep, ep.config()).await;
    // (label, confidence) per image, persisted in this order.
    let images: [&[(&str, f32)]; 7] = [
        &[("Dog", 97.5), ("Animal", 99.0)],
        &[("dog", 91.25)],
        &[("Dog", 85.0), ("Cat", 60.0)],
        &[("DOG", 80.0)],
        &[("Dog", 79.99)],
        &[("Cat", 99.0)],
        &[("Dog", 55.0)],
    ];
    let mut ids = Vec::new();
    for labels in images {
        let (id, detail) = synthetic_detail(&ep, "e1").await;
        let input = done_input(&detail, &image_json(&id, &detail), &labels_json(labels), &thumbs_json(&id));
        pipeline.run(StepFunction::Persist, input).await.unwrap();
        ids.push(id);
    }

    let (status, all) = get_json(&format!("{api}/images?label=dog&minConfidence=80")).await;
    assert_eq!(status, 200, "{all}");
    let got: Vec<&str> = all["items"].as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        vec![ids[0].as_str(), ids[1].as_str(), ids[2].as_str(), ids[3].as_str()],
        "Dog >= 80 by confidence desc: {all}"
    );
    let confidences: Vec<f64> =
        all["items"].as_array().unwrap().iter().map(|i| i["confidence"].as_f64().unwrap()).collect();
    assert_eq!(confidences, vec![97.5, 91.25, 85.0, 80.0]);
    let first = &all["items"][0];
    assert_eq!(first["label"], "Dog");
    assert!(
        first["thumbnailUrl"].as_str().is_some_and(|u| u.contains(&format!("thumbnails/{}/256.jpg", ids[0]))),
        "{first}"
    );

    // The label is matched ignoring case; without a floor every Dog is there.
    let (_, upper) = get_json(&format!("{api}/images?label=DOG&minConfidence=80")).await;
    let upper: Vec<&str> = upper["items"].as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    assert_eq!(upper, got);
    let (_, any) = get_json(&format!("{api}/images?label=Dog")).await;
    assert_eq!(any["items"].as_array().unwrap().len(), 6, "{any}");

    // Pages of 2 give the same list, without duplicates.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let q = match &cursor {
            Some(c) => format!("{api}/images?label=dog&minConfidence=80&limit=2&cursor={c}"),
            None => format!("{api}/images?label=dog&minConfidence=80&limit=2"),
        };
        let (status, page) = get_json(&q).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        paged.extend(items.iter().map(|i| i["imageId"].as_str().unwrap().to_string()));
        cursor = page["cursor"].as_str().map(str::to_string);
        if paged.len() == 2 {
            assert!(cursor.is_some(), "the first page of 2 of 4 must have a cursor: {page}");
        }
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "paging did not end");
    assert_eq!(paged, got, "paging changed the list");

    for bad in [
        "label=dog&cursor=garbage",
        "label=dog&cursor=eyJQSyI6MX0",
        "cursor=!!!",
        "label=dog&limit=0",
        "label=dog&limit=1000",
        "limit=0",
        "limit=abc",
        "label=dog&minConfidence=101",
        "label=dog&minConfidence=high",
    ] {
        let (status, doc) = get_json(&format!("{api}/images?{bad}")).await;
        assert_eq!(status, 400, "{bad} -> {doc}");
        assert_eq!(doc["error"]["code"], "BAD_REQUEST", "{bad} -> {doc}");
    }

    // Recent images: newest first, every image once.
    let (status, recent) = get_json(&format!("{api}/images")).await;
    assert_eq!(status, 200, "{recent}");
    let recent_ids: Vec<&str> =
        recent["items"].as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(recent_ids, newest_first, "{recent}");
    assert_eq!(recent["items"][0]["status"], "DONE");
    assert_eq!(recent["items"][0]["topLabels"], json!(["Dog"]));
    assert_eq!(recent["items"][1]["topLabels"], json!(["Cat"]));
    assert!(recent["items"][0]["thumbnailUrl"].is_string());
    let (_, page) = get_json(&format!("{api}/images?limit=3")).await;
    let cursor = page["cursor"].as_str().expect("a cursor after 3 of 7");
    let (_, rest) = get_json(&format!("{api}/images?limit=10&cursor={cursor}")).await;
    let rest: Vec<&str> = rest["items"].as_array().unwrap().iter().map(|i| i["imageId"].as_str().unwrap()).collect();
    assert_eq!(rest, newest_first[3..].to_vec());

    // The image view carries the labels and URLs; unknown and malformed ids are 404 and 400.
    let (status, view) = get_json(&format!("{api}/images/{}", ids[0])).await;
    assert_eq!(status, 200);
    assert_eq!(view["status"], "DONE");
    assert_eq!(view["labels"][0]["name"], "Dog");
    assert_eq!(view["labels"][0]["instances"][0]["boundingBox"]["width"], 0.5);
    assert_eq!(view["thumbnails"].as_array().unwrap().len(), 2);
    assert!(view["resultUrl"].as_str().is_some_and(|u| u.contains(&format!("results/{}.json", ids[0]))), "{view}");
    let (status, doc) = get_json(&format!("{api}/images/{}", uuid::Uuid::new_v4())).await;
    assert_eq!((status, doc["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, doc) = get_json(&format!("{api}/images/not-a-uuid")).await;
    assert_eq!((status, doc["error"]["code"].as_str()), (400, Some("BAD_REQUEST")));
}

#[tokio::test]
async fn presigned_result_urls_download_from_the_endpoint() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let api = api(&ep, ep.config()).await;
    let (id, detail) = ep.upload(images::png(300, 200), "png", "image/png").await;
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let input = done_input(&detail, &image, &labels_json(&[("Tree", 90.0)]), &thumbnails);
    pipeline.run(StepFunction::Persist, input).await.unwrap();

    let (_, view) = get_json(&format!("{api}/images/{id}")).await;
    let small =
        view["thumbnails"].as_array().unwrap().iter().find(|t| t["size"] == 256).expect("a 256 thumbnail").clone();
    let bytes = reqwest::get(small["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(bytes.status(), 200);
    let bytes = bytes.bytes().await.unwrap();
    assert_eq!(images::describe(&bytes), (image::ImageFormat::Jpeg, 256, 171));
    let original = reqwest::get(view["originalUrl"].as_str().unwrap()).await.unwrap();
    // The original downloads as an attachment of its validated type, never sniffed into a page.
    let header = |name: &str| original.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(header("content-type"), "image/png");
    assert!(header("content-disposition").starts_with("attachment"), "{:?}", header("content-disposition"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(original.bytes().await.unwrap().as_ref(), images::png(300, 200).as_slice());
    let result: Value = reqwest::get(view["resultUrl"].as_str().unwrap()).await.unwrap().json().await.unwrap();
    assert_eq!(result["status"], "DONE");
}

#[tokio::test]
async fn a_rejected_upload_is_never_offered_for_download() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let api = api(&ep, ep.config()).await;
    let page = b"<html><script>alert(document.cookie)</script></html>".repeat(10);
    let (id, detail) = ep.upload(page, "jpg", "image/jpeg").await;
    let err = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap_err();
    assert_eq!(err.error_type(), "ImageRejected");
    let cause: Value = serde_json::from_str(&err.cause_json()).unwrap();
    pipeline.run(StepFunction::Persist, failed_input("REJECTED", &detail, "ImageRejected", &cause)).await.unwrap();

    let (status, view) = get_json(&format!("{api}/images/{id}")).await;
    assert_eq!((status, view["status"].as_str()), (200, Some("REJECTED")));
    assert_eq!(view["error"]["code"], "UNSUPPORTED_FORMAT");
    assert!(view["originalUrl"].is_null(), "a rejected upload's bytes are not served back: {view}");
}
