//! Every API route is its caller's (issue 11) and shows clients no internals (issue 10): the real
//! routers over the embedded S3 and DynamoDB, with real step code making the images, and the
//! caller handed over in the request context as API Gateway's JWT authorizer does.

use std::time::Duration;

use imgpipe_core::StepFunction;
use imgpipe_e2e::callers::{signed_in, TEST_CALLER};
use imgpipe_e2e::endpoints::{self, execution_arn, validate_input, Endpoints, INPUT_BUCKET, OUTPUT_BUCKET};
use imgpipe_e2e::images;
use serde_json::{json, Value};

const ALICE: &str = "6b1c1d4e-alice";
const BOB: &str = "9f3a7e2c-bob";

/// The whole API over `ep`; each request's caller is named by `call`.
async fn api(ep: &Endpoints) -> String {
    endpoints::serve(signed_in(imgpipe_core::http::router(ep.api_state(ep.config())), None)).await
}

/// A request as `caller` (`None`: no verified caller at all); the status, headers and JSON body.
async fn call(
    method: &str,
    url: &str,
    caller: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(sub) = caller {
        req = req.header(TEST_CALLER, sub);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let bytes = res.bytes().await.unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn get(url: &str, caller: &str) -> (u16, Value) {
    let (status, _, body) = call("GET", url, Some(caller), None).await;
    (status, body)
}

/// `owner` presigns through the API and uploads a JPEG; returns the image id (PENDING).
async fn presigned_upload(
    ep: &mut Endpoints,
    api: &str,
    owner: &str,
) -> (String, imgpipe_core::model::ObjectCreatedDetail) {
    let photo = images::jpeg(640, 480);
    let body = json!({"filename": "dog.jpg", "contentType": "image/jpeg", "size": photo.len()});
    let (status, _, signed) = call("POST", &format!("{api}/uploads"), Some(owner), Some(body)).await;
    assert_eq!(status, 201, "{signed}");
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in signed["upload"]["fields"].as_object().unwrap() {
        form = form.text(k.clone(), v.as_str().unwrap().to_string());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(photo).file_name("dog.jpg"));
    let res =
        reqwest::Client::new().post(signed["upload"]["url"].as_str().unwrap()).multipart(form).send().await.unwrap();
    assert!(res.status().is_success(), "signed upload: {}", res.status());
    let event = ep.next_event(Duration::from_secs(5)).await.expect("an Object Created event");
    (signed["imageId"].as_str().unwrap().to_string(), endpoints::detail_of(&event))
}

/// `owner` uploads an image that the real steps take to DONE with a "Dog" label: the original,
/// thumbnails, result JSON, image item and label item all exist.
async fn done_image(ep: &mut Endpoints, api: &str, owner: &str) -> String {
    let (id, detail) = presigned_upload(ep, api, owner).await;
    let pipeline = ep.pipeline();
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let input = json!({
        "status": "DONE", "detail": detail, "image": image, "thumbnails": thumbnails,
        "executionId": execution_arn(&detail), "startedAt": "2026-01-01T00:00:00Z",
        "labels": {"source": "test", "modelVersion": "1", "labels": [{"name": "Dog", "confidence": 91.0}]},
    });
    pipeline.run(StepFunction::Persist, input).await.unwrap();
    let record = ep.image_record(&id).await.unwrap();
    assert_eq!((record.status.as_str(), record.owner.as_str()), ("DONE", owner), "{record:?}");
    id
}

/// Every object key of image `id`, as (bucket, key), versions included where the store keeps them.
async fn files_of(ep: &Endpoints, id: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (bucket, prefix) in [
        (INPUT_BUCKET, format!("uploads/{id}.")),
        (OUTPUT_BUCKET, format!("thumbnails/{id}/")),
        (OUTPUT_BUCKET, format!("results/{id}")),
    ] {
        let s3 = &ep.clients.s3;
        match s3.list_object_versions().bucket(bucket).prefix(&prefix).send().await {
            Ok(out) => {
                found.extend(out.versions().iter().filter_map(|v| Some((bucket.to_string(), v.key()?.to_string()))));
                found.extend(
                    out.delete_markers().iter().filter_map(|m| Some((bucket.to_string(), m.key()?.to_string()))),
                );
            }
            Err(_) => {
                let out = s3.list_objects_v2().bucket(bucket).prefix(&prefix).send().await.unwrap();
                found.extend(out.contents().iter().filter_map(|o| Some((bucket.to_string(), o.key()?.to_string()))));
            }
        }
    }
    found
}

/// The table items (image or label) that name image `id`.
async fn items_of(ep: &Endpoints, id: &str) -> usize {
    ep.scan_table()
        .await
        .iter()
        .filter(|item| item.get("imageId").and_then(|v| v.as_s().ok()) == Some(&id.to_string()))
        .count()
}

#[tokio::test]
async fn without_a_caller_every_upload_and_image_route_is_401() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep).await;
    let id = done_image(&mut ep, &api, ALICE).await;
    let routes = [
        ("POST", "/uploads".to_string()),
        ("GET", "/images".to_string()),
        ("GET", "/images?label=Dog".to_string()),
        ("GET", format!("/images/{id}")),
        ("GET", format!("/images/{id}/timeline")),
        ("DELETE", format!("/images/{id}")),
        ("GET", format!("/images/{}", uuid::Uuid::new_v4())),
    ];
    for (method, path) in routes {
        let body = (method == "POST").then(|| json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}));
        let (status, headers, doc) = call(method, &format!("{api}{path}"), None, body).await;
        assert_eq!(status, 401, "{method} {path}: {doc}");
        assert_eq!(headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"), "{method} {path}");
        assert_eq!(doc["error"]["code"], "UNAUTHORIZED", "{method} {path}: {doc}");
    }
    assert_eq!(files_of(&ep, &id).await.len(), 4, "nothing was deleted: original, 2 thumbnails, result");
    assert_eq!(items_of(&ep, &id).await, 2, "image item and label item");
}

#[tokio::test]
async fn another_owners_image_is_the_same_404_as_a_missing_one_on_every_route() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep).await;
    let id = done_image(&mut ep, &api, ALICE).await;
    // A second, PENDING upload of Alice's, so her lists have a next page.
    presigned_upload(&mut ep, &api, ALICE).await;
    let record = ep.image_record(&id).await.unwrap();
    assert_eq!(record.owner, ALICE, "presign records the caller as the owner");

    // Alice sees her image, with download links.
    let (status, mine) = get(&format!("{api}/images/{id}"), ALICE).await;
    assert_eq!(status, 200, "{mine}");
    assert!(mine["originalUrl"].is_string() && mine["resultUrl"].is_string(), "{mine}");

    let missing = uuid::Uuid::new_v4();
    for path in ["", "/timeline"] {
        let (status, theirs) = get(&format!("{api}/images/{id}{path}"), BOB).await;
        let (missing_status, nothing) = get(&format!("{api}/images/{missing}{path}"), BOB).await;
        assert_eq!((status, missing_status), (404, 404), "/images/{{id}}{path}: {theirs}");
        assert_eq!(theirs, nothing, "another owner's image answers exactly as a missing one");
        assert!(!theirs.to_string().contains("http"), "no URL of any kind: {theirs}");
    }
    let (status, _, theirs) = call("DELETE", &format!("{api}/images/{id}"), Some(BOB), None).await;
    let (_, _, nothing) = call("DELETE", &format!("{api}/images/{missing}"), Some(BOB), None).await;
    assert_eq!((status, &theirs), (404, &nothing), "DELETE of another owner's image");
    assert_eq!(files_of(&ep, &id).await.len(), 4, "Bob's DELETE removed none of Alice's files");
    assert_eq!(items_of(&ep, &id).await, 2, "Bob's DELETE removed none of Alice's items");

    // Lists and searches read the caller's partitions only.
    let (_, bobs) = get(&format!("{api}/images"), BOB).await;
    let (_, bobs_dogs) = get(&format!("{api}/images?label=Dog"), BOB).await;
    assert_eq!(
        (bobs["items"].as_array().map(Vec::len), bobs_dogs["items"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    let (_, alices_dogs) = get(&format!("{api}/images?label=Dog"), ALICE).await;
    assert_eq!(alices_dogs["items"][0]["imageId"], id.as_str(), "{alices_dogs}");

    // Alice's cursor is bound to her partition: Bob cannot page through it.
    let (_, page) = get(&format!("{api}/images?limit=1"), ALICE).await;
    let cursor = page["cursor"].as_str().unwrap_or_else(|| panic!("a next page: {page}")).to_string();
    let (status, doc) = get(&format!("{api}/images?limit=1&cursor={cursor}"), BOB).await;
    assert_eq!(status, 400, "{doc}");
    let (status, next) = get(&format!("{api}/images?limit=1&cursor={cursor}"), ALICE).await;
    assert_eq!((status, next["items"].as_array().map(Vec::len)), (200, Some(1)), "{next}");
}

#[tokio::test]
async fn delete_removes_everything_and_a_second_delete_is_harmless() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep).await;
    let id = done_image(&mut ep, &api, ALICE).await;
    let other = done_image(&mut ep, &api, ALICE).await;
    assert_eq!(files_of(&ep, &id).await.len(), 4, "original, 2 thumbnails, result");
    assert_eq!(items_of(&ep, &id).await, 2, "image item and label item");

    let (status, _, body) = call("DELETE", &format!("{api}/images/{id}"), Some(ALICE), None).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(files_of(&ep, &id).await, vec![], "every file and version is gone");
    assert_eq!(items_of(&ep, &id).await, 0, "the image item and its label items are gone");
    let (status, _) = get(&format!("{api}/images/{id}"), ALICE).await;
    assert_eq!(status, 404);
    let (_, dogs) = get(&format!("{api}/images?label=Dog"), ALICE).await;
    assert_eq!(dogs["items"].as_array().map(Vec::len), Some(1), "only the other image is found: {dogs}");

    // Again: nothing to delete, the same answer as any id the caller cannot see, nothing else touched.
    let (status, _, again) = call("DELETE", &format!("{api}/images/{id}"), Some(ALICE), None).await;
    let (_, _, missing) = call("DELETE", &format!("{api}/images/{}", uuid::Uuid::new_v4()), Some(ALICE), None).await;
    assert_eq!((status, &again), (404, &missing));
    assert_eq!(files_of(&ep, &other).await.len(), 4, "the other image keeps its files");
    assert_eq!(items_of(&ep, &other).await, 2, "the other image keeps its items");
    let (status, _, doc) = call("DELETE", &format!("{api}/images/not-an-id"), Some(ALICE), None).await;
    assert_eq!(status, 400, "{doc}");
}

#[tokio::test]
async fn failed_and_rejected_views_show_a_code_and_a_sentence_only() {
    let mut ep = Endpoints::start().await;
    let api = api(&ep).await;
    let pipeline = ep.pipeline();
    let sdk_cause = json!({
        "errorType": "Retryable",
        "errorMessage": "detecting labels: dispatch failure: io error: arn:aws:states:eu-west-1:123456789012:execution:imgpipe:x",
    });
    let rejected_cause = json!({"errorType": "ImageRejected", "errorMessage": "CORRUPT: The image data is damaged."});
    for (status, error, cause, code) in [
        ("FAILED", "Retryable", &sdk_cause, "PROCESSING_FAILED"),
        ("REJECTED", "ImageRejected", &rejected_cause, "CORRUPT"),
    ] {
        let (id, detail) = presigned_upload(&mut ep, &api, ALICE).await;
        let input = json!({
            "status": status, "detail": detail, "error": {"Error": error, "Cause": cause.to_string()},
            "executionId": execution_arn(&detail), "startedAt": chrono::Utc::now().to_rfc3339(),
        });
        pipeline.run(StepFunction::Persist, input).await.unwrap();
        let (http, view) = get(&format!("{api}/images/{id}"), ALICE).await;
        assert_eq!((http, view["status"].as_str()), (200, Some(status)), "{view}");
        assert_eq!(view["error"]["code"], code, "{view}");
        assert!(view["error"]["message"].as_str().is_some_and(|m| m.ends_with('.')), "a sentence: {view}");
        let text = view.to_string();
        for internal in ["123456789012", "arn:", "dispatch", "executionId", "execution", "consoleUrl", "Retryable"] {
            assert!(!text.contains(internal), "{internal:?} shown to the client: {text}");
        }
        assert_eq!(view.get("executionId"), None);
    }
}
