//! Each compiled function binary (`target/debug/<name>`, built by `cargo build --workspace --bins`)
//! run as Lambda runs it: under a Lambda Runtime API on loopback, with Lambda's environment,
//! talking to the embedded S3 and DynamoDB endpoints. Real events in, the right responses and
//! `errorType`s out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use imgpipe_e2e::endpoints::{self, execution_arn, validate_input, Endpoints, INPUT_BUCKET, OUTPUT_BUCKET};
use imgpipe_e2e::images;
use imgpipe_e2e::runtime_api::{function_binary, http_event, http_response, without_authorizer, LambdaFunction};
use serde_json::{json, Value};

async fn start(name: &str, ep: &Endpoints, extra: &[(&str, &str)]) -> LambdaFunction {
    let mut env = ep.function_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let function = LambdaFunction::start(name, &env).await;
    // Init finished: the runtime asked for its first event.
    let polled = function.api.first_poll().expect("the function polled /next");
    eprintln!("{name}: cold start {:?} (first /next {polled:?} after the Runtime API started)", function.cold_start);
    assert!(function.api.init_error().is_none());
    function
}

#[tokio::test]
async fn validate_describes_images_and_names_its_errors() {
    let mut ep = Endpoints::start().await;
    let mut f = start("validate", &ep, &[]).await;

    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let out = f.invoke(validate_input(&detail)).await;
    let image = out.response();
    assert_eq!(image["id"], id.as_str());
    assert_eq!(image["format"], "jpeg");
    assert_eq!(image["contentType"], "image/jpeg");
    assert_eq!((image["width"].as_u64(), image["height"].as_u64()), (Some(640), Some(480)));
    assert_eq!(image["bucket"], INPUT_BUCKET);
    assert_eq!(image["key"], detail.object.key.as_str());
    assert_eq!(image["etag"], detail.object.etag.as_str());
    assert_eq!(image["bytes"], detail.object.size);

    // A text file under an image key: rejected with a machine code.
    let (_, text) = ep.upload(b"just some notes, not a picture\n".repeat(10), "jpg", "image/jpeg").await;
    let out = f.invoke(validate_input(&text)).await;
    let (error_type, message) = out.error();
    assert_eq!(error_type, "ImageRejected");
    assert!(message.starts_with("UNSUPPORTED_FORMAT: "), "{message}");

    // Too small: its own code.
    let (_, tiny) = ep.upload(images::png(20, 20), "png", "image/png").await;
    let out = f.invoke(validate_input(&tiny)).await;
    let (error_type, message) = out.error();
    assert_eq!(error_type, "ImageRejected");
    assert!(message.starts_with("TOO_SMALL: "), "{message}");

    // A key imgpipe did not generate: a bug upstream, not the user's fault.
    let mut foreign = detail.clone();
    foreign.object.key = "elsewhere/photo.jpg".into();
    let out = f.invoke(validate_input(&foreign)).await;
    assert_eq!(out.error().0, "InternalError", "{out:?}");

    // Input of the wrong shape: InternalError, never a Rust type name.
    for bad in [json!({"detail": {"bucket": "x"}}), json!({"unexpected": true}), json!([1, 2, 3]), json!("text")] {
        let out = f.invoke(bad.clone()).await;
        let (error_type, message) = out.error();
        assert_eq!(error_type, "InternalError", "{bad} -> {out:?}");
        assert!(!message.is_empty());
        assert!(!error_type.contains("::"), "{error_type}");
    }

    // An object without an upload record: nobody to attribute it to, so the run ends.
    let mut unknown = detail.clone();
    unknown.object.key = format!("uploads/{}.jpg", uuid::Uuid::new_v4());
    let out = f.invoke(validate_input(&unknown)).await;
    assert_eq!(out.error().0, "UnknownUpload", "{out:?}");

    // A missing object: S3 says NoSuchKey; retrying will not bring it back.
    let gone_id = uuid::Uuid::new_v4().to_string();
    let mut gone = detail.clone();
    gone.object.key = format!("uploads/{gone_id}.jpg");
    ep.pending(&gone_id, &gone.object.key).await;
    let out = f.invoke(validate_input(&gone)).await;
    assert_eq!(out.error().0, "InternalError", "{out:?}");

    // Errors reach the Runtime API as Lambda expects: with the error-type header.
    let out = f.invoke(validate_input(&text)).await;
    match out {
        imgpipe_e2e::runtime_api::Outcome::Error { header, .. } => {
            assert!(header.is_some(), "no Lambda-Runtime-Function-Error-Type header")
        }
        other => panic!("{other:?}"),
    }
    // The process survived every error and still answers.
    assert_eq!(f.invoke(validate_input(&detail)).await.response()["width"], 640);
}

#[tokio::test]
async fn thumbnail_writes_both_sizes() {
    let mut ep = Endpoints::start().await;
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = ep.pipeline().run(imgpipe_core::StepFunction::Validate, validate_input(&detail)).await.unwrap();

    let mut f = start("thumbnail", &ep, &[]).await;
    let out = f.invoke(json!({ "image": image })).await;
    let thumbs = out.response().as_array().expect("a list of thumbnails").clone();
    assert_eq!(thumbs.len(), 2, "{thumbs:?}");
    let expected = [(1024, 640, 480), (256, 256, 192)];
    for (size, width, height) in expected {
        let t =
            thumbs.iter().find(|t| t["size"] == size).unwrap_or_else(|| panic!("no {size} thumbnail in {thumbs:?}"));
        let key = format!("thumbnails/{id}/{size}.jpg");
        assert_eq!(t["key"], key.as_str());
        assert_eq!(t["bucket"], OUTPUT_BUCKET);
        assert_eq!((t["width"].as_u64(), t["height"].as_u64()), (Some(width), Some(height)));
        let stored = ep.get_object(OUTPUT_BUCKET, &key).await.unwrap_or_else(|| panic!("{key} not written"));
        assert_eq!(t["bytes"], stored.len());
        assert_eq!(images::describe(&stored), (image::ImageFormat::Jpeg, width as u32, height as u32));
    }
}

#[tokio::test]
async fn persist_stores_done_and_rejected_records() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = pipeline.run(imgpipe_core::StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let thumbnails = pipeline.run(imgpipe_core::StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let execution = execution_arn(&detail);
    let labels = json!({"source": "rekognition", "modelVersion": "3.0", "labels": [
        {"name": "Dog", "confidence": 96.5, "parents": ["Animal"], "aliases": [], "categories": [], "instances": []}
    ]});

    let mut f = start("persist", &ep, &[]).await;
    let done = json!({
        "status": "DONE", "detail": detail, "image": image, "labels": labels, "thumbnails": thumbnails,
        "executionId": execution, "startedAt": "2025-01-01T00:00:00Z"
    });
    let record = f.invoke(done).await.response().clone();
    assert_eq!(record["status"], "DONE");
    assert_eq!(record["written"], true);
    assert_eq!(record["pk"], format!("IMAGE#{id}").as_str());
    let stored = ep.image_item(&id).await.expect("the image record");
    assert_eq!(stored["status"], "DONE");
    assert_eq!(stored["executionId"], execution.as_str());
    assert_eq!(stored["labels"]["labels"][0]["name"], "Dog");
    let result = ep.get_object(OUTPUT_BUCKET, &format!("results/{id}.json")).await.expect("results/<id>.json");
    let result: Value = serde_json::from_slice(&result).unwrap();
    assert_eq!(result["imageId"], id.as_str());
    assert_eq!(result["image"]["width"], 640);

    // RecordRejected: Validate's error object, as the Catch put it at $.error.
    let (rid, rdetail) = ep.upload(b"%PDF-1.7 not an image".repeat(8), "jpg", "image/jpeg").await;
    let rejected = json!({
        "status": "REJECTED", "detail": rdetail,
        "error": {"Error": "ImageRejected", "Cause": json!({"errorType": "ImageRejected", "errorMessage": "UNSUPPORTED_FORMAT: This is a PDF document; upload a JPEG, PNG, WebP or GIF."}).to_string()},
        "executionId": execution_arn(&rdetail), "startedAt": "2025-01-01T00:00:00Z"
    });
    let record = f.invoke(rejected).await.response().clone();
    assert_eq!(record["status"], "REJECTED");
    assert!(record["resultKey"].is_null());
    let stored = ep.image_item(&rid).await.expect("the rejected record");
    assert_eq!(stored["status"], "REJECTED");
    assert_eq!(stored["error"]["code"], "UNSUPPORTED_FORMAT");
    assert_eq!(stored["error"]["message"], "This is a PDF document; upload a JPEG, PNG, WebP or GIF.");
    assert_eq!(ep.get_object(OUTPUT_BUCKET, &format!("results/{rid}.json")).await, None);

    // DONE without its parts is a definition bug.
    let out = f.invoke(json!({"status": "DONE", "detail": rdetail})).await;
    assert_eq!(out.error().0, "InternalError");
}

#[tokio::test]
async fn presign_answers_api_gateway_events() {
    let ep = Endpoints::start().await;
    let mut f = start("presign", &ep, &[]).await;
    let photo = images::jpeg(200, 150);

    let body = json!({"filename": "cat.jpg", "contentType": "image/jpeg", "size": photo.len()});
    let out = f.invoke(http_event("POST", "/uploads", "", Some(&body))).await;
    let (status, doc) = http_response(out.response());
    assert_eq!(status, 201, "{doc}");
    let id = doc["imageId"].as_str().expect("imageId");
    assert_eq!(doc["key"], format!("uploads/{id}.jpg").as_str());
    assert_eq!(doc["upload"]["url"], format!("{}/{INPUT_BUCKET}", ep.s3_url).as_str());
    assert!(doc["upload"]["fields"]["x-amz-signature"].is_string(), "{doc}");
    let pending = ep.image_item(id).await.expect("a PENDING record");
    assert_eq!(pending["status"], "PENDING");
    assert_eq!(pending["owner"], imgpipe_e2e::endpoints::TEST_OWNER, "the owner is the authorizer's sub");

    // The signature made inside the Lambda (from its environment credentials) is accepted by S3.
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in doc["upload"]["fields"].as_object().unwrap() {
        form = form.text(k.clone(), v.as_str().unwrap().to_string());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(photo.clone()));
    let res = reqwest::Client::new().post(doc["upload"]["url"].as_str().unwrap()).multipart(form).send().await.unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);

    for (bad, code) in [
        (json!({"filename": "cat.heic", "contentType": "image/heic", "size": 10}), "UNSUPPORTED_TYPE"),
        (json!({"filename": "cat.jpg", "contentType": "image/jpeg"}), "BAD_REQUEST"),
        (json!({"filename": "cat.jpg", "contentType": "image/jpeg", "size": 0}), "EMPTY"),
    ] {
        let out = f.invoke(http_event("POST", "/uploads", "", Some(&bad))).await;
        let (status, doc) = http_response(out.response());
        assert_eq!((status, doc["error"]["code"].as_str()), (400, Some(code)), "{bad} -> {doc}");
    }
}

#[tokio::test]
async fn query_answers_api_gateway_events() {
    let ep = Endpoints::start().await;
    let mut f = start("query", &ep, &[]).await;

    // The owner comes from the authorizer's claims; without them the function refuses.
    let out = f.invoke(without_authorizer(http_event("GET", "/images", "", None))).await;
    let (status, doc) = http_response(out.response());
    assert_eq!((status, doc["error"]["code"].as_str()), (401, Some("UNAUTHORIZED")), "{doc}");
    let out = f.invoke(http_event("GET", "/images", "", None)).await;
    let (status, doc) = http_response(out.response());
    assert_eq!((status, doc["items"].as_array().map(Vec::len)), (200, Some(0)), "{doc}");

    let unknown = uuid::Uuid::new_v4();
    let out = f.invoke(http_event("GET", &format!("/images/{unknown}"), "", None)).await;
    let (status, doc) = http_response(out.response());
    assert_eq!((status, doc["error"]["code"].as_str()), (404, Some("NOT_FOUND")), "{doc}");

    let out = f.invoke(http_event("GET", "/images/not-a-uuid", "", None)).await;
    let (status, doc) = http_response(out.response());
    assert_eq!((status, doc["error"]["code"].as_str()), (400, Some("BAD_REQUEST")), "{doc}");

    let out = f.invoke(http_event("GET", "/images", "label=Dog&limit=0", None)).await;
    let (status, _) = http_response(out.response());
    assert_eq!(status, 400);

    // A record written by the pipeline is found, with its query string parsed by API Gateway.
    let (id, detail) = {
        let id = uuid::Uuid::new_v4().to_string();
        let detail = json!({"version": "0", "bucket": {"name": INPUT_BUCKET},
            "object": {"key": format!("uploads/{id}.jpg"), "size": 1, "etag": "abc"}, "reason": "PostObject"});
        (id, detail)
    };
    ep.pending(&id, &format!("uploads/{id}.jpg")).await;
    let cause = json!({"errorType": "ImageRejected", "errorMessage": "CORRUPT: The image is damaged."}).to_string();
    ep.pipeline()
        .run(
            imgpipe_core::StepFunction::Persist,
            json!({"status": "REJECTED", "detail": detail, "error": {"Error": "ImageRejected", "Cause": cause}}),
        )
        .await
        .unwrap();
    let out = f.invoke(http_event("GET", &format!("/images/{id}"), "", None)).await;
    let (status, doc) = http_response(out.response());
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["status"], "REJECTED");
    assert_eq!(doc["error"]["code"], "CORRUPT");
    let out = f.invoke(http_event("GET", "/images", "limit=5", None)).await;
    let (status, doc) = http_response(out.response());
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["items"][0]["imageId"], id.as_str());
}

// ---------------------------------------------------------------------------------------------
// detect-labels against a loopback service that answers as Rekognition does

/// A status, an `x-amzn-errortype` (empty for none) and a JSON body.
type Answer = (StatusCode, &'static str, Value);

/// What the stand-in Rekognition answers next to each operation (`DetectLabels`,
/// `DetectCustomLabels`), and the requests it saw.
#[derive(Default)]
struct Rekognition {
    answers: Mutex<HashMap<&'static str, Answer>>,
    requests: Mutex<Vec<(String, Value)>>,
    /// When set, each request is answered only once another request has arrived too (or after 10 s,
    /// with a 500): the two calls of one invocation were in flight together.
    meet: Mutex<Option<Arc<tokio::sync::Barrier>>>,
}

impl Rekognition {
    fn set(&self, operation: &'static str, status: StatusCode, error_type: &'static str, doc: Value) {
        self.answers.lock().unwrap().insert(operation, (status, error_type, doc));
    }

    fn error(&self, operation: &'static str, status: StatusCode, code: &'static str) {
        self.set(operation, status, code, json!({"__type": code, "message": format!("{code} from the stub")}));
    }
}

async fn rekognition(
    axum::extract::State(state): axum::extract::State<Arc<Rekognition>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    state.requests.lock().unwrap().push((target.clone(), serde_json::from_slice(&body).unwrap_or(Value::Null)));
    let meet = state.meet.lock().unwrap().clone();
    if let Some(barrier) = meet {
        if tokio::time::timeout(std::time::Duration::from_secs(10), barrier.wait()).await.is_err() {
            return (StatusCode::INTERNAL_SERVER_ERROR, "the other call never came while this one waited")
                .into_response();
        }
    }
    let operation = target.strip_prefix("RekognitionService.").unwrap_or_default();
    let answer = state.answers.lock().unwrap().get(operation).cloned();
    let Some((status, error_type, doc)) = answer else {
        return (StatusCode::NOT_IMPLEMENTED, format!("no answer set for {target:?}")).into_response();
    };
    let mut response = (status, [("content-type", "application/x-amz-json-1.1")], doc.to_string()).into_response();
    if !error_type.is_empty() {
        response.headers_mut().insert("x-amzn-errortype", error_type.parse().unwrap());
    }
    response
}

#[tokio::test]
async fn detect_labels_maps_rekognition_answers_and_errors() {
    let mut ep = Endpoints::start().await;
    let stub = Arc::new(Rekognition::default());
    let url = endpoints::serve(axum::Router::new().fallback(rekognition).with_state(stub.clone())).await;
    let mut f =
        start("detect-labels", &ep, &[("AWS_ENDPOINT_URL_REKOGNITION", url.as_str()), ("AWS_MAX_ATTEMPTS", "1")]).await;

    let (_, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = ep.pipeline().run(imgpipe_core::StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let event = json!({ "image": image });

    let set = |status, error_type, doc| stub.set("DetectLabels", status, error_type, doc);

    set(
        StatusCode::BAD_REQUEST,
        "ThrottlingException",
        json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
    );
    let out = f.invoke(event.clone()).await;
    assert_eq!(out.error().0, "Retryable", "{out:?}");

    set(
        StatusCode::BAD_REQUEST,
        "InvalidImageFormatException",
        json!({"__type": "InvalidImageFormatException", "message": "Request has invalid image format"}),
    );
    let out = f.invoke(event.clone()).await;
    let (error_type, message) = out.error();
    assert_eq!(error_type, "ImageRejected");
    assert!(message.starts_with("UNSUPPORTED_FORMAT: "), "{message}");

    set(StatusCode::BAD_REQUEST, "AccessDeniedException", json!({"__type": "AccessDeniedException", "message": "no"}));
    assert_eq!(f.invoke(event.clone()).await.error().0, "InternalError");

    set(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        json!({"__type": "InternalServerError", "message": "boom"}),
    );
    assert_eq!(f.invoke(event.clone()).await.error().0, "Retryable");

    set(
        StatusCode::OK,
        "",
        json!({
            "LabelModelVersion": "3.0",
            "Labels": [
                {"Name": "Grass", "Confidence": 40.5, "Instances": [], "Parents": [{"Name": "Plant"}], "Aliases": [], "Categories": [{"Name": "Plants and Flowers"}]},
                {"Name": "Animal", "Confidence": 97.25, "Instances": [], "Parents": [], "Aliases": [], "Categories": [{"Name": "Animals and Pets"}]},
                {"Name": "Dog", "Confidence": 98.5,
                 "Instances": [
                    {"BoundingBox": {"Width": 0.5, "Height": 0.625, "Left": 0.125, "Top": 0.25}, "Confidence": 96.75},
                    {"BoundingBox": {"Width": 0.25, "Height": 0.25, "Left": 0.7, "Top": 0.1}, "Confidence": 80.0}
                 ],
                 "Parents": [{"Name": "Animal"}, {"Name": "Pet"}, {"Name": "Mammal"}],
                 "Aliases": [{"Name": "Puppy"}],
                 "Categories": [{"Name": "Animals and Pets"}]}
            ]
        }),
    );
    let out = f.invoke(event.clone()).await;
    let labels = out.response();
    assert_eq!(labels["source"], "rekognition");
    assert_eq!(labels["modelVersion"], "3.0");
    let names: Vec<&str> = labels["labels"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Dog", "Animal"], "sorted by confidence, below MIN_CONFIDENCE dropped: {labels}");
    let dog = &labels["labels"][0];
    assert_eq!(dog["confidence"], 98.5);
    assert_eq!(dog["parents"], json!(["Animal", "Pet", "Mammal"]));
    assert_eq!(dog["aliases"], json!(["Puppy"]));
    assert_eq!(dog["categories"], json!(["Animals and Pets"]));
    assert_eq!(dog["instances"].as_array().unwrap().len(), 2);
    assert_eq!(dog["instances"][0]["confidence"], 96.75);
    assert_eq!(dog["instances"][0]["boundingBox"], json!({"left": 0.125, "top": 0.25, "width": 0.5, "height": 0.625}));

    // Every call was a DetectLabels by S3 reference (no image bytes), one attempt each; without a
    // Custom Labels model configured, DetectCustomLabels is never called.
    let requests = stub.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 5, "AWS_MAX_ATTEMPTS=1 means one request per invocation: {requests:?}");
    for (target, body) in &requests {
        assert_eq!(target, "RekognitionService.DetectLabels");
        assert_eq!(body["Image"]["S3Object"]["Bucket"], INPUT_BUCKET);
        assert_eq!(body["Image"]["S3Object"]["Name"], detail.object.key.as_str());
        assert!(body["Image"].get("Bytes").is_none());
        assert_eq!(body["MaxLabels"], 20);
        assert_eq!(body["MinConfidence"], 55.0);
    }
}

// ---------------------------------------------------------------------------------------------
// detect-labels with a Rekognition Custom Labels model (CUSTOM_LABELS_MODEL_ARN)

fn model_arn() -> String {
    format!(
        "arn:aws:rekognition:{}:123456789012:project/widgets/version/widgets.2026-11-30T10.15.02/1764497702000",
        endpoints::REGION
    )
}

/// DetectLabels' answer in the custom-labels tests: a boxed dog, an animal, grass below the minimum.
fn rekognition_labels() -> Value {
    json!({
        "LabelModelVersion": "3.0",
        "Labels": [
            {"Name": "Dog", "Confidence": 98.5, "Parents": [{"Name": "Animal"}], "Aliases": [], "Categories": [{"Name": "Animals and Pets"}],
             "Instances": [{"BoundingBox": {"Width": 0.5, "Height": 0.625, "Left": 0.125, "Top": 0.25}, "Confidence": 96.75}]},
            {"Name": "Animal", "Confidence": 97.25, "Parents": [], "Aliases": [], "Categories": [], "Instances": []},
            {"Name": "Grass", "Confidence": 40.5, "Parents": [], "Aliases": [], "Categories": [], "Instances": []}
        ]
    })
}

async fn custom_labels_function(ep: &mut Endpoints) -> (Arc<Rekognition>, LambdaFunction, Value) {
    let stub = Arc::new(Rekognition::default());
    let url = endpoints::serve(axum::Router::new().fallback(rekognition).with_state(stub.clone())).await;
    let arn = model_arn();
    let env =
        [("AWS_ENDPOINT_URL_REKOGNITION", url.as_str()), ("AWS_MAX_ATTEMPTS", "1"), ("CUSTOM_LABELS_MODEL_ARN", &arn)];
    let f = start("detect-labels", ep, &env).await;
    let (_, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = ep.pipeline().run(imgpipe_core::StepFunction::Validate, validate_input(&detail)).await.unwrap();
    (stub, f, json!({ "image": image }))
}

#[tokio::test]
async fn detect_labels_merges_a_custom_labels_models_answer() {
    let mut ep = Endpoints::start().await;
    let (stub, mut f, event) = custom_labels_function(&mut ep).await;
    stub.set("DetectLabels", StatusCode::OK, "", rekognition_labels());
    stub.set(
        "DetectCustomLabels",
        StatusCode::OK,
        "",
        json!({"CustomLabels": [
            {"Name": "Dog", "Confidence": 99.25, "Geometry": {"BoundingBox": {"Width": 0.25, "Height": 0.5, "Left": 0.5, "Top": 0.125}}},
            {"Name": "Corgi", "Confidence": 93.0, "Geometry": {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1}}},
            {"Name": "Corgi", "Confidence": 52.0, "Geometry": {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.7, "Top": 0.7}}},
            {"Name": "Corgi", "Confidence": 88.0, "Geometry": {"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.4, "Top": 0.4}}},
            {"Name": "Indoor Scene", "Confidence": 70.0},
            {"Name": "Shelf", "Confidence": 80.0, "Geometry": {}},
            {"Name": "Low", "Confidence": 30.0},
            {"Confidence": 90.0},
            {"Name": "", "Confidence": 90.0},
            {"Name": "Forged", "Confidence": 1e39},
            {"Name": "Negative", "Confidence": -3.0},
            {"Name": "x".repeat(300), "Confidence": 99.0}
        ]}),
    );
    // Both calls must be in flight together for either to be answered.
    *stub.meet.lock().unwrap() = Some(Arc::new(tokio::sync::Barrier::new(2)));
    let out = f.invoke(event.clone()).await;
    let labels = out.response();

    assert_eq!(labels["source"], "rekognition");
    assert_eq!(labels["modelVersion"], "3.0");
    assert_eq!(
        labels["models"],
        json!(["rekognition@3.0", "custom-labels:widgets@widgets.2026-11-30T10.15.02/1764497702000"])
    );
    let rows = labels["labels"].as_array().unwrap();
    let summary: Vec<(&str, f64, Vec<&str>)> = rows
        .iter()
        .map(|l| {
            let sources = l["sources"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            (l["name"].as_str().unwrap(), l["confidence"].as_f64().unwrap(), sources)
        })
        .collect();
    // One label per name, the higher confidence, both sources; MIN_CONFIDENCE (55) after the merge;
    // nameless, forged and over-long answers dropped.
    let expected: Vec<(&str, f64, Vec<&str>)> = vec![
        ("Dog", 99.25, vec!["rekognition", "custom-labels"]),
        ("Animal", 97.25, vec!["rekognition"]),
        ("Corgi", 93.0, vec!["custom-labels"]),
        ("Shelf", 80.0, vec!["custom-labels"]),
        ("Indoor Scene", 70.0, vec!["custom-labels"]),
    ];
    assert_eq!(summary, expected, "{labels}");
    let dog = &rows[0];
    assert_eq!(dog["parents"], json!(["Animal"]));
    assert_eq!(dog["categories"], json!(["Animals and Pets"]));
    let boxes: Vec<Value> = dog["instances"].as_array().unwrap().iter().map(|i| i["boundingBox"].clone()).collect();
    assert_eq!(
        boxes,
        vec![
            json!({"left": 0.5, "top": 0.125, "width": 0.25, "height": 0.5}),
            json!({"left": 0.125, "top": 0.25, "width": 0.5, "height": 0.625}),
        ],
        "the custom model's box (99.25) and Rekognition's (96.75), highest first"
    );
    let corgi_confidences: Vec<f64> =
        rows[2]["instances"].as_array().unwrap().iter().map(|i| i["confidence"].as_f64().unwrap()).collect();
    assert_eq!(corgi_confidences, [93.0, 88.0, 52.0], "every object the model found, even the unsure one");
    assert!(rows[3]["instances"].as_array().unwrap().is_empty(), "Geometry without a box gives no instance");

    // One call each, by S3 reference to the claimed version; DetectCustomLabels names the model and
    // leaves MinConfidence to the model's own thresholds.
    let requests = stub.requests.lock().unwrap().clone();
    let mut targets: Vec<&str> = requests.iter().map(|(t, _)| t.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(targets, ["RekognitionService.DetectCustomLabels", "RekognitionService.DetectLabels"]);
    let (_, custom) = requests.iter().find(|(t, _)| t.ends_with("DetectCustomLabels")).unwrap();
    assert_eq!(custom["ProjectVersionArn"], model_arn().as_str());
    assert_eq!(custom["Image"]["S3Object"]["Bucket"], INPUT_BUCKET);
    assert_eq!(custom["Image"]["S3Object"]["Name"], event["image"]["key"]);
    assert_eq!(custom["Image"]["S3Object"].get("Version"), event["image"].get("versionId"));
    assert!(custom["Image"].get("Bytes").is_none());
    assert_eq!(custom["MaxResults"], 100);
    assert!(custom.get("MinConfidence").is_none(), "{custom}");
}

#[tokio::test]
async fn detect_labels_maps_custom_labels_errors() {
    let mut ep = Endpoints::start().await;
    let (stub, mut f, event) = custom_labels_function(&mut ep).await;
    stub.set("DetectLabels", StatusCode::OK, "", rekognition_labels());
    let arn = model_arn();

    // The model is stopped (or still starting): its own error name, never retried, saying what to do.
    stub.error("DetectCustomLabels", StatusCode::BAD_REQUEST, "ResourceNotReadyException");
    let out = f.invoke(event.clone()).await;
    let (error_type, message) = out.error();
    assert_eq!(error_type, "CustomModelNotRunning");
    assert!(message.contains(&arn) && message.contains("start-project-version"), "{message}");

    for (status, code, error_type) in [
        // Throttles and too little provisioned throughput: the retryable class, as DetectLabels' throttles.
        (StatusCode::BAD_REQUEST, "ThrottlingException", "Retryable"),
        (StatusCode::BAD_REQUEST, "ProvisionedThroughputExceededException", "Retryable"),
        (StatusCode::BAD_REQUEST, "LimitExceededException", "Retryable"),
        (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Retryable"),
        // A wrong ARN, a missing permission, a model of another feature type: misconfiguration.
        (StatusCode::BAD_REQUEST, "ResourceNotFoundException", "InternalError"),
        (StatusCode::BAD_REQUEST, "AccessDeniedException", "InternalError"),
        (StatusCode::BAD_REQUEST, "InvalidParameterException", "InternalError"),
    ] {
        stub.error("DetectCustomLabels", status, code);
        let out = f.invoke(event.clone()).await;
        let (got, message) = out.error();
        assert_eq!(got, error_type, "{code}: {message}");
        assert!(message.contains(&arn), "{code}: the message names the model: {message}");
    }

    // The image itself: rejected as DetectLabels would.
    for (code, reject) in
        [("InvalidImageFormatException", "UNSUPPORTED_FORMAT: "), ("ImageTooLargeException", "TOO_LARGE: ")]
    {
        stub.error("DetectCustomLabels", StatusCode::BAD_REQUEST, code);
        let out = f.invoke(event.clone()).await;
        let (error_type, message) = out.error();
        assert_eq!(error_type, "ImageRejected", "{code}");
        assert!(message.starts_with(reject), "{code}: {message}");
    }

    // Both fail: the failure a retry cannot fix is reported, whichever call it came from.
    stub.error("DetectLabels", StatusCode::BAD_REQUEST, "ThrottlingException");
    stub.error("DetectCustomLabels", StatusCode::BAD_REQUEST, "ResourceNotReadyException");
    assert_eq!(f.invoke(event.clone()).await.error().0, "CustomModelNotRunning");
    stub.error("DetectLabels", StatusCode::BAD_REQUEST, "InvalidImageFormatException");
    stub.error("DetectCustomLabels", StatusCode::BAD_REQUEST, "ThrottlingException");
    assert_eq!(f.invoke(event.clone()).await.error().0, "ImageRejected");

    // DetectLabels fails alone: its error, although the custom model answered.
    stub.set("DetectCustomLabels", StatusCode::OK, "", json!({"CustomLabels": []}));
    stub.error("DetectLabels", StatusCode::BAD_REQUEST, "AccessDeniedException");
    assert_eq!(f.invoke(event.clone()).await.error().0, "InternalError");

    // Recovered: the same process labels again.
    stub.set("DetectLabels", StatusCode::OK, "", rekognition_labels());
    let out = f.invoke(event.clone()).await;
    assert_eq!(out.response()["labels"][0]["name"], "Dog");
    assert_eq!(out.response()["models"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_bad_custom_labels_model_arn_fails_init_with_the_variable_named() {
    let ep = Endpoints::start().await;
    let elsewhere = model_arn().replace(endpoints::REGION, "ap-southeast-2");
    for arn in ["arn:aws:rekognition:us-east-1:123456789012:project/widgets", "*", elsewhere.as_str()] {
        let mut env = ep.function_env();
        env.push(("CUSTOM_LABELS_MODEL_ARN".into(), arn.into()));
        let failure = match LambdaFunction::try_start("detect-labels", &env).await {
            Ok(f) => panic!("detect-labels started with CUSTOM_LABELS_MODEL_ARN={arn}; log:\n{}", f.log()),
            Err(failure) => failure,
        };
        let reported = format!("{}{:?}", failure.log, failure.init_error);
        assert!(reported.contains("CUSTOM_LABELS_MODEL_ARN"), "{arn}: {failure:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Init

#[tokio::test]
async fn misconfiguration_fails_init_with_the_variable_named() {
    let ep = Endpoints::start().await;
    let mut env = ep.function_env();
    env.push(("THUMBNAIL_QUALITY".into(), "101".into()));
    let failure = match LambdaFunction::try_start("thumbnail", &env).await {
        Ok(f) => panic!("thumbnail started with THUMBNAIL_QUALITY=101; log:\n{}", f.log()),
        Err(failure) => failure,
    };
    assert!(failure.why.contains("exited during init"), "{failure:?}");
    let reported = format!("{}{:?}", failure.log, failure.init_error);
    assert!(reported.contains("THUMBNAIL_QUALITY"), "the reason does not name the variable: {failure:?}");
}

#[test]
fn a_missing_binary_says_to_build_first() {
    let panic = std::panic::catch_unwind(|| function_binary("no-such-function")).unwrap_err();
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("cargo build --workspace --bins"), "{message}");
}
