//! Re-processing stored uploads (issue 14): the Reclaim step selects and re-claims final records
//! for a re-process execution, the pipeline's own steps run again over the version the record
//! names, and the new outcome replaces the record and its label items. A running upload and a
//! re-process of the same image never overwrite each other. Real step code on the embedded S3
//! and DynamoDB.

use imgpipe_core::model::ObjectCreatedDetail;
use imgpipe_core::steps::reclaim::{ReclaimOutput, SkipReason, MAX_BATCH_ITEMS};
use imgpipe_core::table::ImageRecord;
use imgpipe_core::{Pipeline, StepFunction};
use imgpipe_e2e::endpoints::{execution_arn, validate_input, Endpoints, TEST_OWNER};
use imgpipe_e2e::images;
use serde_json::{json, Value};

const REPROCESS: &str = "arn:aws:states:us-east-1:123456789012:execution:imgpipe-reprocess/Reprocess:batch-1";
const OTHER_REPROCESS: &str = "arn:aws:states:us-east-1:123456789012:execution:imgpipe-reprocess/Reprocess:batch-2";

fn labels(model: &str, names: &[(&str, f32)]) -> Value {
    let labels: Vec<Value> = names.iter().map(|(n, c)| json!({"name": n, "confidence": c})).collect();
    json!({"source": "test", "modelVersion": model, "models": [model], "labels": labels})
}

fn persist(status: &str, detail: &ObjectCreatedDetail, execution: &str, outcome: Value) -> Value {
    let mut input =
        json!({"status": status, "detail": detail, "executionId": execution, "startedAt": "2026-01-01T00:00:00Z"});
    if let (Some(target), Some(fields)) = (input.as_object_mut(), outcome.as_object()) {
        target.extend(fields.clone());
    }
    input
}

/// Runs Validate, Thumbnail and Persist (DONE with `labels`) for `execution` over `detail`.
async fn run_done(p: &Pipeline, detail: &ObjectCreatedDetail, execution: &str, labels: Value) -> Value {
    let image = p.run(StepFunction::Validate, json!({"detail": detail, "executionId": execution})).await.unwrap();
    let thumbnails = p.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let outcome = json!({"image": image, "labels": labels, "thumbnails": thumbnails});
    p.run(StepFunction::Persist, persist("DONE", detail, execution, outcome)).await.unwrap()
}

/// An upload processed to DONE by its own execution, labelled by `model`.
async fn processed(ep: &mut Endpoints, model: &str, names: &[(&str, f32)]) -> (String, ObjectCreatedDetail) {
    let (id, detail) = ep.upload(images::jpeg(320, 240), "jpg", "image/jpeg").await;
    let written = run_done(&ep.pipeline(), &detail, &execution_arn(&detail), labels(model, names)).await;
    assert_eq!(written["written"], true, "{written}");
    (id, detail)
}

/// An upload whose execution stored it FAILED.
async fn failed(ep: &mut Endpoints) -> (String, ObjectCreatedDetail) {
    let (id, detail) = ep.upload(images::jpeg(320, 240), "jpg", "image/jpeg").await;
    let p = ep.pipeline();
    p.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let error = json!({"error": {"Error": "Retryable", "Cause": "Rekognition was down"}});
    p.run(StepFunction::Persist, persist("FAILED", &detail, &execution_arn(&detail), error)).await.unwrap();
    (id, detail)
}

fn listed(detail: &ObjectCreatedDetail) -> Value {
    json!({"Key": detail.object.key, "Etag": format!("\"{}\"", detail.object.etag), "Size": detail.object.size,
           "LastModified": 1_700_000_000, "StorageClass": "STANDARD"})
}

async fn reclaim(p: &Pipeline, items: Vec<Value>, filter: Value, execution: &str) -> ReclaimOutput {
    let out = p.run(StepFunction::Reclaim, json!({"items": items, "filter": filter, "executionId": execution})).await;
    serde_json::from_value(out.expect("Reclaim")).expect("Reclaim's output")
}

fn claimed_keys(out: &ReclaimOutput) -> Vec<&str> {
    out.claimed.iter().map(|c| c.detail.object.key.as_str()).collect()
}

async fn label_ids(ep: &Endpoints, label: &str) -> Vec<String> {
    let page = ep.table.query_label(TEST_OWNER, label, 0.0, 50, None).await.expect("querying a label");
    page.items.into_iter().map(|hit| hit.image_id).collect()
}

async fn record(ep: &Endpoints, id: &str) -> ImageRecord {
    ep.image_record(id).await.expect("the record")
}

#[tokio::test]
async fn a_reprocess_replaces_the_labels_and_keeps_the_owner_and_creation_time() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (id, detail) = processed(&mut ep, "old@1", &[("Cat", 80.0), ("Pet", 70.0)]).await;
    let before = record(&ep, &id).await;
    assert_eq!(label_ids(&ep, "cat").await, vec![id.clone()]);

    let out = reclaim(&p, vec![listed(&detail)], json!({"currentModels": ["new@2"]}), REPROCESS).await;
    assert_eq!(claimed_keys(&out), vec![detail.object.key.as_str()]);
    let claimed = &out.claimed[0].detail;
    assert_eq!(
        (claimed.object.version_id.as_ref(), claimed.object.etag.as_str()),
        (detail.object.version_id.as_ref(), detail.object.etag.as_str())
    );
    let reclaimed = record(&ep, &id).await;
    assert_eq!((reclaimed.status.as_str(), reclaimed.reclaimed_by.as_deref()), ("DONE", Some(REPROCESS)));
    assert_eq!(reclaimed.labels, before.labels, "the old outcome stays visible while the image is re-processed");

    let written = run_done(&p, claimed, REPROCESS, labels("new@2", &[("Dog", 90.0), ("Pet", 75.0)])).await;
    assert_eq!(written["written"], true, "{written}");
    let after = record(&ep, &id).await;
    assert_eq!(after.status.as_str(), "DONE");
    assert_eq!((after.owner.as_str(), after.created_at.as_str()), (TEST_OWNER, before.created_at.as_str()));
    assert_eq!((after.execution_id.as_deref(), after.reclaimed_by.as_deref()), (Some(REPROCESS), None));
    assert_eq!(after.labels.as_ref().map(|l| l.models.clone()), Some(vec!["new@2".to_string()]));
    assert!(label_ids(&ep, "cat").await.is_empty(), "no stale label item is left");
    assert_eq!(label_ids(&ep, "dog").await, vec![id.clone()]);
    assert_eq!(label_ids(&ep, "pet").await, vec![id.clone()], "one item per label: the old confidence's is gone");
    let items: Vec<_> = ep.scan_table().await.into_iter().filter(|i| format!("{i:?}").contains(&id)).collect();
    assert_eq!(items.len(), 3, "one image item and two label items: {items:?}");

    // The same image is not selected again as stale, and a retry of the write changes nothing.
    let again = reclaim(&p, vec![listed(&detail)], json!({"currentModels": ["new@2"]}), OTHER_REPROCESS).await;
    assert!(again.claimed.is_empty() && again.skipped[0].reason == SkipReason::NotSelected, "{again:?}");
    let err = p.run(StepFunction::Validate, json!({"detail": claimed, "executionId": REPROCESS})).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload", "the re-claim ended with the write");
    let outcome =
        json!({"labels": labels("new@2", &[("Dog", 90.0)]), "image": after.image, "thumbnails": after.thumbnails});
    let retry = p.run(StepFunction::Persist, persist("DONE", claimed, REPROCESS, outcome)).await.unwrap();
    assert_eq!(retry["written"], false, "a retry of Persist after the write is left alone: {retry}");
    assert_eq!(label_ids(&ep, "pet").await, vec![id.clone()]);
}

#[tokio::test]
async fn a_running_upload_is_not_reclaimed_and_its_outcome_stands() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (id, detail) = ep.upload(images::jpeg(320, 240), "jpg", "image/jpeg").await;
    // PENDING and unclaimed (the event is on its way), then claimed by its execution.
    let out = reclaim(&p, vec![listed(&detail)], json!({}), REPROCESS).await;
    assert_eq!(out.skipped[0].reason, SkipReason::InProgress);
    let image = p.run(StepFunction::Validate, validate_input(&detail)).await.unwrap();
    let out = reclaim(&p, vec![listed(&detail)], json!({}), REPROCESS).await;
    assert_eq!(out.skipped[0].reason, SkipReason::InProgress, "the running upload wins");
    // A re-process that got further anyway (a forged input) cannot take the record over.
    let err = p.run(StepFunction::Validate, json!({"detail": detail, "executionId": REPROCESS})).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload");
    let thumbnails = p.run(StepFunction::Thumbnail, json!({ "image": image })).await.unwrap();
    let outcome = json!({"image": image, "labels": labels("m@1", &[("Dog", 90.0)]), "thumbnails": thumbnails});
    let late = p.run(StepFunction::Persist, persist("DONE", &detail, REPROCESS, outcome.clone())).await.unwrap();
    assert_eq!(late["written"], false);
    let done = p.run(StepFunction::Persist, persist("DONE", &detail, &execution_arn(&detail), outcome)).await.unwrap();
    assert_eq!(done["written"], true);
    assert_eq!(record(&ep, &id).await.execution_id, Some(execution_arn(&detail)));
}

#[tokio::test]
async fn a_late_original_execution_cannot_overwrite_a_reclaim() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (id, detail) = processed(&mut ep, "m@1", &[("Cat", 80.0)]).await;
    let out = reclaim(&p, vec![listed(&detail)], json!({}), REPROCESS).await;
    assert_eq!(out.claimed.len(), 1);
    // The original execution's Persist and RecordFailed, retried late, and a replayed event.
    let original = execution_arn(&detail);
    let error = json!({"error": {"Error": "States.Timeout", "Cause": "late"}});
    let late = p.run(StepFunction::Persist, persist("FAILED", &detail, &original, error)).await.unwrap();
    assert_eq!(late["written"], false);
    let err = p.run(StepFunction::Validate, validate_input(&detail)).await.unwrap_err();
    assert_eq!(err.error_type(), "DuplicateUpload");
    let kept = record(&ep, &id).await;
    assert_eq!((kept.status.as_str(), kept.reclaimed_by.as_deref()), ("DONE", Some(REPROCESS)));
    let written = run_done(&p, &out.claimed[0].detail, REPROCESS, labels("m@2", &[("Cat", 85.0)])).await;
    assert_eq!(written["written"], true);
}

#[tokio::test]
async fn a_newer_reprocess_takes_over_and_the_older_one_stops_at_validate() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (id, detail) = processed(&mut ep, "m@1", &[("Cat", 80.0)]).await;
    let first = reclaim(&p, vec![listed(&detail)], json!({}), REPROCESS).await;
    let second = reclaim(&p, vec![listed(&detail)], json!({}), OTHER_REPROCESS).await;
    assert_eq!((first.claimed.len(), second.claimed.len()), (1, 1));
    let err = p.run(StepFunction::Validate, json!({"detail": first.claimed[0].detail, "executionId": REPROCESS})).await;
    assert_eq!(err.unwrap_err().error_type(), "DuplicateUpload");
    let written = run_done(&p, &second.claimed[0].detail, OTHER_REPROCESS, labels("m@2", &[("Dog", 90.0)])).await;
    assert_eq!(written["written"], true);
    assert_eq!(record(&ep, &id).await.execution_id.as_deref(), Some(OTHER_REPROCESS));
}

#[tokio::test]
async fn a_failed_reprocess_keeps_the_previous_result_and_a_failed_upload_gets_the_new_failure() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (done_id, done) = processed(&mut ep, "m@1", &[("Cat", 80.0)]).await;
    let (failed_id, failed_detail) = failed(&mut ep).await;
    let out = reclaim(&p, vec![listed(&done), listed(&failed_detail)], json!({}), REPROCESS).await;
    assert_eq!(out.claimed.len(), 2);
    let error = json!({"error": {"Error": "Retryable", "Cause": "throttled again"}});
    for detail in [&done, &failed_detail] {
        p.run(StepFunction::Persist, persist("FAILED", detail, REPROCESS, error.clone())).await.unwrap();
    }
    let kept = record(&ep, &done_id).await;
    assert_eq!((kept.status.as_str(), kept.reclaimed_by.as_deref()), ("DONE", None), "an outage loses no result");
    assert_eq!(kept.execution_id, Some(execution_arn(&done)));
    assert_eq!(label_ids(&ep, "cat").await, vec![done_id]);
    let refailed = record(&ep, &failed_id).await;
    assert_eq!((refailed.status.as_str(), refailed.execution_id.as_deref()), ("FAILED", Some(REPROCESS)));
    assert_eq!(refailed.error.map(|e| e.message), Some("throttled again".to_string()));
}

#[tokio::test]
async fn the_filters_select_failed_or_stale_records_and_a_retry_claims_the_same() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (_, current) = processed(&mut ep, "m@2", &[("Cat", 80.0)]).await;
    let (_, stale) = processed(&mut ep, "m@1", &[("Dog", 80.0)]).await;
    let (_, failed) = failed(&mut ep).await;
    let all = || vec![listed(&current), listed(&stale), listed(&failed)];

    let only_failed = reclaim(&p, all(), json!({"status": "FAILED", "currentModels": null}), REPROCESS).await;
    assert_eq!(claimed_keys(&only_failed), vec![failed.object.key.as_str()]);
    let retried = reclaim(&p, all(), json!({"status": "FAILED"}), REPROCESS).await;
    assert_eq!(retried, only_failed, "a retry of the step finds its own re-claims");

    let only_stale = reclaim(&p, all(), json!({"currentModels": ["m@2"]}), OTHER_REPROCESS).await;
    assert_eq!(claimed_keys(&only_stale), vec![stale.object.key.as_str()]);
    let reasons: Vec<SkipReason> = only_stale.skipped.iter().map(|s| s.reason).collect();
    assert_eq!(reasons, vec![SkipReason::NotSelected, SkipReason::NotSelected]);

    let everything = reclaim(&p, all(), json!({}), "arn:aws:states:::execution:x/Reprocess:3").await;
    assert_eq!(everything.claimed.len(), 3);
}

#[tokio::test]
async fn objects_that_are_not_uploads_are_skipped_and_bad_input_is_refused() {
    let mut ep = Endpoints::start().await;
    let p = ep.pipeline();
    let (id, detail) = processed(&mut ep, "m@1", &[("Cat", 80.0)]).await;
    ep.clients
        .dynamo
        .delete_item()
        .table_name(ep.table.name())
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("IMAGE#{id}")))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("IMAGE".into()))
        .send()
        .await
        .unwrap();
    let items = vec![
        json!({"Key": "uploads/not-a-uuid.jpg"}),
        json!({"Key": "thumbnails/x/256.jpg", "Size": 3}),
        json!({"Key": format!("uploads/{}.png", uuid::Uuid::new_v4())}),
        listed(&detail),
        listed(&detail),
    ];
    let out = reclaim(&p, items, json!({}), REPROCESS).await;
    let reasons: Vec<SkipReason> = out.skipped.iter().map(|s| s.reason).collect();
    use SkipReason::*;
    assert_eq!(reasons, vec![NotAnUpload, NotAnUpload, NoRecord, NoRecord, Repeated]);
    assert!(out.claimed.is_empty());

    let too_many: Vec<Value> = (0..=MAX_BATCH_ITEMS).map(|i| json!({"Key": format!("uploads/{i}.jpg")})).collect();
    for bad in [
        json!({"items": too_many, "filter": {}, "executionId": REPROCESS}),
        json!({"items": [], "filter": {"status": "PENDING"}, "executionId": REPROCESS}),
        json!({"items": [], "filter": {"currentModels": []}, "executionId": REPROCESS}),
        json!({"items": [], "filter": {"stale": true}, "executionId": REPROCESS}),
        json!({"items": [{"Size": 1}], "executionId": REPROCESS}),
    ] {
        let err = p.run(StepFunction::Reclaim, bad.clone()).await.unwrap_err();
        assert_eq!(err.error_type(), "InternalError", "{bad}: {err}");
    }
}

// ------------------------------------------------------------------ `imgpipe reprocess`, the real binary

fn imgpipe(args: &[&str], data: &std::path::Path) -> (Option<i32>, Value, String) {
    let out = imgpipe_e2e::serve::imgpipe_command().args(args).arg("--data").arg(data).output().expect("run imgpipe");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\n{stderr}"));
    (out.status.code(), json, stderr)
}

fn label_names(image: &Value) -> Vec<String> {
    image["labels"].as_array().into_iter().flatten().filter_map(|l| l["name"].as_str().map(str::to_string)).collect()
}

/// Rewrites the record of `id` in the data dir's table as `change` says (imgpipe not running).
async fn edit_record(data: &std::path::Path, id: &str, change: impl FnOnce(&mut ImageRecord)) {
    let storage = imgpipe::storage::Storage::start(imgpipe::storage::StorageOptions {
        data_dir: data.to_path_buf(),
        config: imgpipe_core::Config::default(),
        credentials: None,
        allowed_origins: vec![],
    })
    .await
    .expect("opening the data dir's storage");
    let mut record = storage.table.get_image(id, true).await.expect("reading").expect("the record");
    change(&mut record);
    let item = record.to_item().expect("encoding");
    let put = storage.clients.dynamo.put_item().table_name(storage.table.name()).set_item(Some(item));
    put.send().await.expect("writing the record");
}

#[tokio::test]
async fn imgpipe_reprocess_relabels_stale_images_and_the_api_shows_the_new_labels() {
    let data = imgpipe_e2e::serve::TempDir::new("imgpipe-reprocess");
    let photo = imgpipe_e2e::serve::test_photo("chelsea.png");
    let (code, rows, stderr) = imgpipe(&["process", "--json", photo.to_str().unwrap()], data.path());
    assert_eq!(code, Some(0), "{rows}\n{stderr}");
    let id = rows[0]["imageId"].as_str().expect("an image id").to_string();
    let (_, shown, _) = imgpipe(&["show", &id], data.path());
    let current = shown["modelVersion"].as_str().expect("the models that labelled it").to_string();
    assert!(label_names(&shown).contains(&"Cat".to_string()), "{shown}");

    // Nothing is stale yet; then the record says an older detector labelled it.
    let (code, summary, stderr) = imgpipe(&["reprocess", "--stale-model", "--json"], data.path());
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    assert_eq!((summary["reprocessed"].as_u64(), summary["skipped"].as_u64()), (Some(0), Some(1)), "{summary}");
    edit_record(data.path(), &id, |r| {
        if let Some(labels) = r.labels.as_mut() {
            labels.models = vec!["ssd_mobilenet_v2_coco@000000000000".into()];
            labels.model_version = "ssd_mobilenet_v2_coco@000000000000".into();
            labels.labels.retain(|l| l.name != "Cat");
        }
    })
    .await;
    let (_, stale, _) = imgpipe(&["show", &id], data.path());
    assert!(!label_names(&stale).contains(&"Cat".to_string()), "{stale}");
    assert_eq!(stale["modelVersion"], "ssd_mobilenet_v2_coco@000000000000");

    let (code, summary, stderr) = imgpipe(&["reprocess", "--stale-model", "--json"], data.path());
    assert_eq!(code, Some(0), "{summary}\n{stderr}");
    assert_eq!(summary["status"], "SUCCEEDED");
    assert_eq!((summary["reprocessed"].as_u64(), summary["failed"].as_u64()), (Some(1), Some(0)), "{summary}");

    // Read back through the API: the current models' labels, the same owner and creation time.
    let (_, after, _) = imgpipe(&["show", &id], data.path());
    assert_eq!(after["status"], "DONE");
    assert_eq!(after["modelVersion"].as_str(), Some(current.as_str()), "{after}");
    assert!(label_names(&after).contains(&"Cat".to_string()), "the model's labels are back: {after}");
    assert_eq!(after["createdAt"], shown["createdAt"]);
    let (_, found, _) = imgpipe(&["query", "--label", "Cat"], data.path());
    let ids: Vec<&str> =
        found["items"].as_array().into_iter().flatten().filter_map(|i| i["imageId"].as_str()).collect();
    assert_eq!(ids, vec![id.as_str()], "one label item for the image: {found}");

    // A bad prefix is refused before anything runs.
    let out = imgpipe_e2e::serve::imgpipe_command()
        .args(["reprocess", "--prefix", "thumbnails/", "--data"])
        .arg(data.path())
        .output()
        .expect("run imgpipe");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("uploads/"));
}
