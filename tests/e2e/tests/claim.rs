//! One upload, one pipeline run: the first state claims the upload's record for its execution,
//! a duplicate event or replayed form ends at once, only the claimer stores an outcome, and a
//! delete during processing leaves nothing behind. Real step code on the embedded S3 and DynamoDB.

use imgpipe_core::model::ObjectCreatedDetail;
use imgpipe_core::StepFunction;
use imgpipe_e2e::endpoints::{execution_arn, validate_input, Endpoints, INPUT_BUCKET, OUTPUT_BUCKET, TEST_OWNER};
use imgpipe_e2e::images;
use serde_json::{json, Value};

fn persist_done(detail: &ObjectCreatedDetail, execution: &str, image: &Value, thumbnails: &Value) -> Value {
    json!({
        "status": "DONE", "detail": detail, "image": image, "thumbnails": thumbnails, "executionId": execution,
        "labels": {"source": "test", "modelVersion": "1", "labels": [{"name": "Dog", "confidence": 90.0}]},
        "startedAt": "2026-01-01T00:00:00Z",
    })
}

/// Deletes an image item directly, as the owner's DELETE does first.
async fn delete_record(ep: &Endpoints, id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let key = imgpipe_core::table::ImageRecord::key_of(id);
    ep.clients
        .dynamo
        .delete_item()
        .table_name(ep.table.name())
        .key("PK", AttributeValue::S(key.pk))
        .key("SK", AttributeValue::S(key.sk))
        .send()
        .await
        .expect("deleting the record");
}

#[tokio::test]
async fn a_duplicate_run_ends_at_validate_and_only_the_claimer_writes() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;

    let first = execution_arn(&detail);
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let claimed = ep.image_item(&id).await.unwrap();
    assert_eq!(claimed["status"], "PENDING");
    assert_eq!(claimed["executionId"], first.as_str(), "the record names the claiming execution");
    assert_eq!(claimed["owner"], TEST_OWNER);

    // The same execution retrying its first state keeps its claim.
    pipeline.run(StepFunction::Validate, validate_input(&detail)).await.expect("a retry of the claimer");

    // A second execution for the same upload (duplicate event, replayed form) ends at once.
    let second = format!("{first}-duplicate");
    let err = pipeline.run(StepFunction::Validate, json!({"detail": detail, "executionId": second})).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload", "{err}");
    assert_eq!(ep.image_item(&id).await.unwrap()["executionId"], first.as_str(), "the claim did not move");

    // Even if the duplicate got further, its outcome is not stored; the claimer's is.
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let late = pipeline.run(StepFunction::Persist, persist_done(&detail, &second, &image, &thumbnails)).await.unwrap();
    assert_eq!(late["written"], false, "{late}");
    assert_eq!(ep.image_item(&id).await.unwrap()["status"], "PENDING");
    let done = pipeline.run(StepFunction::Persist, persist_done(&detail, &first, &image, &thumbnails)).await.unwrap();
    assert_eq!(done["written"], true, "{done}");
    let stored = ep.image_item(&id).await.unwrap();
    assert_eq!((stored["status"].as_str(), stored["executionId"].as_str()), (Some("DONE"), Some(first.as_str())));

    // After the outcome, a replay cannot claim the upload again.
    let err = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload");
}

#[tokio::test]
async fn an_object_without_a_record_is_not_processed() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(320, 240), "jpg", "image/jpeg").await;
    delete_record(&ep, &id).await;
    let err = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap_err();
    assert_eq!(err.error_type(), "UnknownUpload", "{err}");
    assert!(ep.image_item(&id).await.is_none(), "no record is made up for an unknown object");
}

#[tokio::test]
async fn a_delete_during_processing_leaves_nothing_behind() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let written: Vec<String> =
        thumbnails.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_string()).collect();
    assert!(!written.is_empty());

    // The owner deletes the image while the run is between Thumbnail and Persist.
    delete_record(&ep, &id).await;

    let execution = execution_arn(&detail);
    let out =
        pipeline.run(StepFunction::Persist, persist_done(&detail, &execution, &image, &thumbnails)).await.unwrap();
    assert_eq!(out["written"], false, "{out}");
    assert!(ep.image_item(&id).await.is_none(), "the record was resurrected");
    for key in written.iter().chain([&format!("results/{id}.json")]) {
        assert_eq!(ep.get_object(OUTPUT_BUCKET, key).await, None, "{key} was left behind");
    }
    assert!(ep.scan_table().await.is_empty(), "label items were left behind");

    // RecordFailed for a deleted image writes nothing either.
    let failed = json!({
        "status": "FAILED", "detail": detail, "executionId": execution,
        "error": {"Error": "Retryable", "Cause": "S3 is down"},
    });
    pipeline.run(StepFunction::Persist, failed).await.unwrap();
    assert!(ep.image_item(&id).await.is_none());
}

#[tokio::test]
async fn bytes_written_after_the_claim_are_never_read_or_served() {
    let mut ep = Endpoints::start().await;
    let pipeline = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
    assert!(detail.object.version_id.is_some(), "the input bucket keeps versions: {detail:?}");
    let image = pipeline.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    assert_eq!(image["versionId"], detail.object.version_id.as_deref().unwrap());

    // The signed form is posted again with other bytes while the first run is under way.
    ep.clients
        .s3
        .put_object()
        .bucket(INPUT_BUCKET)
        .key(&detail.object.key)
        .content_type("image/jpeg")
        .body(images::png(300, 200).into())
        .send()
        .await
        .expect("overwriting the upload");
    let replay = ep.next_event(std::time::Duration::from_secs(5)).await.expect("an event for the overwrite");
    assert_ne!(replay.version_id, detail.object.version_id);

    // The first run reads the version it claimed, not the new bytes.
    let thumbnails = pipeline.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let large = thumbnails.as_array().unwrap().iter().find(|t| t["size"] == 1024).expect("the 1024 thumbnail");
    assert_eq!((large["width"].as_u64(), large["height"].as_u64()), (Some(640), Some(480)), "{large}");

    // The replay's own run ends at Validate.
    let mut replayed = detail.clone();
    replayed.object.version_id = replay.version_id.clone();
    replayed.object.etag = replay.etag.clone();
    let replay_run = json!({"detail": replayed, "executionId": format!("{}-replay", execution_arn(&detail))});
    let err = pipeline.run(StepFunction::Validate, replay_run).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload");
    assert_eq!(ep.image_item(&id).await.unwrap()["versionId"], detail.object.version_id.as_deref().unwrap());
}
