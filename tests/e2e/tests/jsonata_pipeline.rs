//! `imgpipe serve --definition statemachine/examples/pipeline.jsonata.asl.json`: the pipeline
//! written in JSONata with workflow variables runs the same functions to the same records as the
//! JSONPath pipeline: a photo is DONE with the same image facts, labels and thumbnails, a non-image
//! is REJECTED through the Catch, a replayed event ends at Duplicate with nothing written, and the
//! console's history shows what each state assigned.
//!
//! Needs: `cargo build --workspace --bins`, the model (scripts/fetch-model.sh) and
//! IMGPIPE_TEST_PHOTOS (tests/fixtures/photos.sh).

use std::path::PathBuf;
use std::time::Duration;

use imgpipe_e2e::serve::{
    replayed_event, sfn_run_succeeds, test_photo, timeline_states, workspace_root, Server, TempDir,
};
use serde_json::{json, Value};

const FINAL: Duration = Duration::from_secs(240);
const TIMELINE: Duration = Duration::from_secs(30);
const FAST: [(&str, &str); 1] = [("IMGPIPE_TIME_SCALE", "0.01")];

fn jsonata_definition() -> PathBuf {
    workspace_root().join("statemachine/examples/pipeline.jsonata.asl.json")
}

/// What two runs of the same photo must agree on: everything but ids, times and URLs.
fn comparable(record: &Value) -> Value {
    let thumbnails: Vec<Value> = record["thumbnails"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| json!({"size": t["size"], "width": t["width"], "height": t["height"]}))
        .collect();
    let mut image = record["image"].clone();
    if let Some(facts) = image.as_object_mut() {
        for per_upload in ["id", "key", "versionId"] {
            facts.remove(per_upload);
        }
    }
    json!({
        "status": record["status"],
        "image": image,
        "labels": record["labels"],
        "thumbnails": thumbnails,
        "error": record["error"],
    })
}

/// The variables the `…StateExited` event of `state` shows.
fn assigned<'a>(execution: &'a Value, state: &str) -> &'a Value {
    let events = execution["events"].as_array().expect("events");
    let exited =
        events.iter().find(|e| e["state"] == state && e["type"].as_str().is_some_and(|t| t.ends_with("Exited")));
    &exited.unwrap_or_else(|| panic!("{state} never exited: {execution}"))["variables"]
}

fn label_names(labels: &Value) -> Vec<&str> {
    labels.as_array().into_iter().flatten().filter_map(|l| l["name"].as_str()).collect()
}

#[tokio::test]
async fn the_jsonata_pipeline_stores_what_the_jsonpath_pipeline_stores() {
    let chelsea = test_photo("chelsea.png");
    let notes = b"These are my notes, not a photo.\n".repeat(20);

    let dir = TempDir::new("jsonpath-twin");
    let server = Server::signed_in(&dir.join("data"), &FAST, &[]).await;
    let expected = server.wait_final(&server.upload_file(&chelsea, "image/png").await, FINAL).await;
    let expected_rejection = server.wait_final(&server.upload(&notes, "notes.jpg", "image/jpeg").await, FINAL).await;
    drop(server);

    let dir = TempDir::new("jsonata");
    let data = dir.join("data");
    let definition = jsonata_definition();
    let server = Server::signed_in(&data, &FAST, &["--definition", definition.to_str().expect("a UTF-8 path")]).await;
    let id = server.upload_file(&chelsea, "image/png").await;
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}");
    assert_eq!(comparable(&record), comparable(&expected), "JSONata: {record}\nJSONPath: {expected}");
    let thumbnail = record["thumbnails"][0]["url"].as_str().expect("a thumbnail URL");
    assert_eq!(server.http().get(thumbnail).send().await.expect("GET thumbnail").status().as_u16(), 200);

    let (_, execution) = server.finished_execution(&id, FINAL).await;
    assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    assert_eq!(assigned(&execution, "Validate")["image"]["width"], 451, "{execution}");
    let detected = &assigned(&execution, "DetectLabels")["labels"];
    assert!(label_names(&detected["labels"]).contains(&"Cat"), "DetectLabels assigned its result: {detected}");
    assert!(assigned(&execution, "Thumbnail")["thumbnails"].is_array(), "{execution}");
    assert!(assigned(&execution, "Persist").is_null(), "Persist assigns nothing: {execution}");

    let rejected_id = server.upload(&notes, "notes.jpg", "image/jpeg").await;
    let rejected = server.wait_final(&rejected_id, FINAL).await;
    assert_eq!(rejected["status"], "REJECTED", "{rejected}");
    assert_eq!(comparable(&rejected), comparable(&expected_rejection), "{rejected}");
    let timeline = server.wait_timeline(&rejected_id, "Rejected", TIMELINE).await;
    assert_eq!(timeline_states(&timeline), ["Validate", "RecordRejected", "Rejected"], "{timeline}");
    let (_, execution) = server.finished_execution(&rejected_id, FINAL).await;
    assert_eq!(execution["status"], "FAILED", "{execution}");
    // The caught error output, as the console shows errors: code + sentence.
    let caught = &assigned(&execution, "Validate")["error"];
    assert_eq!(caught["code"], "UNSUPPORTED_FORMAT", "the Catch assigned the error: {execution}");

    // EventBridge delivers the event again: the run ends at Duplicate and writes nothing.
    drop(server);
    let event = dir.join("event.json");
    let size = std::fs::metadata(&chelsea).expect("the photo").len();
    std::fs::write(&event, replayed_event(&record, size).to_string()).expect("write the event");
    let output = sfn_run_succeeds(&definition, &event, &data);
    assert_eq!(output["error"]["Error"], "DuplicateUpload", "{output}");
    assert!(output.get("record").is_none() && output.get("labels").is_none(), "{output}");
    let server = Server::signed_in(&data, &FAST, &["--definition", definition.to_str().expect("a UTF-8 path")]).await;
    assert_eq!(server.image(&id).await["updatedAt"], record["updatedAt"], "the duplicate rewrote nothing");
}
