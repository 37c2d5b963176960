//! End-to-end tests of `imgpipe serve`: the real binary, its embedded S3/DynamoDB, the engine
//! running `statemachine/pipeline.asl.json`, the real model, over HTTP as the page uses it.
//! Each test has its own server and data directory.
//!
//! Needs: `cargo build --workspace --bins`, the model (scripts/fetch-model.sh) and
//! IMGPIPE_TEST_PHOTOS (tests/fixtures/photos.sh).

use std::collections::BTreeSet;
use std::time::Duration;

use imgpipe_e2e::serve::{
    decoded_size, model_path, png_claiming, replayed_event, sfn_run_succeeds, test_photo, timeline_state,
    timeline_states, Server, TempDir,
};
use serde_json::{json, Value};

/// How long one image may take to reach a final status (2 shared cores, a real model).
const FINAL: Duration = Duration::from_secs(240);
/// How long an execution may take to end after its record is final.
const TIMELINE: Duration = Duration::from_secs(30);
/// Fast retries: IntervalSeconds 2 becomes 20 ms.
const FAST: [(&str, &str); 1] = [("IMGPIPE_TIME_SCALE", "0.01")];

fn label<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    record["labels"].as_array()?.iter().find(|l| l["name"] == name)
}

fn label_names(labels: &Value) -> Vec<String> {
    labels.as_array().into_iter().flatten().filter_map(|l| l["name"].as_str().map(str::to_string)).collect()
}

/// Every entry exited, with a duration.
fn assert_complete(timeline: &Value) {
    for e in timeline["events"].as_array().expect("timeline events") {
        assert!(e["exitedAt"].is_string(), "state {} never exited: {timeline}", e["state"]);
        let ms = e["durationMs"].as_i64().unwrap_or_else(|| panic!("no durationMs for {}: {timeline}", e["state"]));
        assert!(ms >= 0, "negative duration: {e}");
    }
}

/// A record that is DONE for a photo: image, labels and thumbnails whose URLs work.
async fn check_done_photo(server: &Server, id: &str, record: &Value, photo_size: (u32, u32)) {
    assert_eq!(record["status"], "DONE", "record: {record}");
    assert_eq!(record["imageId"], id);
    assert_eq!(record["image"]["width"], photo_size.0, "record: {record}");
    assert_eq!(record["image"]["height"], photo_size.1, "record: {record}");
    assert!(record.get("executionId").is_none() && record.get("consoleUrl").is_none(), "no internals: {record}");

    let thumbs = record["thumbnails"].as_array().unwrap_or_else(|| panic!("no thumbnails: {record}"));
    let sizes: BTreeSet<u64> = thumbs.iter().filter_map(|t| t["size"].as_u64()).collect();
    assert_eq!(sizes, BTreeSet::from([256, 1024]), "thumbnail sizes: {record}");
    let original_longest = photo_size.0.max(photo_size.1);
    for t in thumbs {
        let size = t["size"].as_u64().unwrap() as u32;
        let url = t["url"].as_str().unwrap_or_else(|| panic!("thumbnail without url: {t}"));
        let resp = server.http().get(url).send().await.expect("GET thumbnail");
        assert_eq!(resp.status().as_u16(), 200, "GET {url}");
        let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        assert_eq!(ct, "image/jpeg", "thumbnail content type");
        let bytes = resp.bytes().await.expect("thumbnail body");
        let (w, h) = decoded_size(&bytes);
        // Never upscaled: the longest side is the size, or the original's if smaller.
        assert_eq!(w.max(h), size.min(original_longest), "thumbnail {size}: {w}x{h}");
        assert_eq!((u64::from(w), u64::from(h)), (t["width"].as_u64().unwrap(), t["height"].as_u64().unwrap()), "{t}");
        // Aspect ratio kept (within rounding).
        let expected_h = f64::from(w) * f64::from(photo_size.1) / f64::from(photo_size.0);
        assert!((expected_h - f64::from(h)).abs() <= 1.0, "aspect ratio of {w}x{h} vs {photo_size:?}");
    }

    let result_url = record["resultUrl"].as_str().unwrap_or_else(|| panic!("no resultUrl: {record}"));
    let resp = server.http().get(result_url).send().await.expect("GET result");
    assert_eq!(resp.status().as_u16(), 200, "GET {result_url}");
    let result: Value = resp.json().await.expect("result JSON");
    assert_eq!(result["imageId"], id, "result document: {result}");
    assert!(result.get("executionId").is_none(), "the result document names no execution: {result}");
    let result_labels = if result["labels"].is_array() { &result["labels"] } else { &result["labels"]["labels"] };
    assert_eq!(label_names(result_labels), label_names(&record["labels"]), "result labels vs record: {result}");

    let timeline = server.wait_timeline(id, "Persist", TIMELINE).await;
    assert!(timeline.get("executionId").is_none(), "no execution id in the timeline: {timeline}");
    // The timeline's status is the record's (the contract leaves it open; the API reports the record's).
    assert_eq!(timeline["status"], record["status"], "timeline: {timeline}");
    assert_eq!(
        timeline_states(&timeline),
        ["Validate", "DetectLabels", "Thumbnail", "Persist"],
        "timeline: {timeline}"
    );
    for e in timeline["events"].as_array().unwrap() {
        assert_eq!(e["attempts"], 1, "no retries expected: {e}");
    }
    assert_complete(&timeline);
}

#[tokio::test]
async fn photos_go_from_signed_upload_to_done_with_labels_thumbnails_and_queries() {
    let (chelsea, coffee) = (test_photo("chelsea.png"), test_photo("coffee.png"));
    model_path();
    let dir = TempDir::new("done");
    let server = Server::signed_in(&dir.join("data"), &FAST, &[]).await;
    let cat_id = server.upload_file(&chelsea, "image/png").await;
    let cup_id = server.upload_file(&coffee, "image/png").await;
    assert_ne!(cat_id, cup_id);

    let cat = server.wait_final(&cat_id, FINAL).await;
    check_done_photo(&server, &cat_id, &cat, (451, 300)).await;
    assert_eq!(cat["filename"], "chelsea.png");
    let cat_label = label(&cat, "Cat").unwrap_or_else(|| panic!("chelsea.png has no Cat label: {}", cat["labels"]));
    let confidence = cat_label["confidence"].as_f64().expect("confidence");
    assert!(confidence > 50.0 && confidence <= 100.0, "{cat_label}");
    let instances = cat_label["instances"].as_array().expect("instances");
    assert!(!instances.is_empty(), "the cat has no box: {cat_label}");
    for inst in instances {
        let b = &inst["boundingBox"];
        let (l, t, w, h) = (
            b["left"].as_f64().unwrap(),
            b["top"].as_f64().unwrap(),
            b["width"].as_f64().unwrap(),
            b["height"].as_f64().unwrap(),
        );
        assert!(w > 0.0 && h > 0.0 && l >= 0.0 && t >= 0.0 && l + w <= 1.0001 && t + h <= 1.0001, "box as ratios: {b}");
    }

    let cup = server.wait_final(&cup_id, FINAL).await;
    check_done_photo(&server, &cup_id, &cup, (600, 400)).await;
    assert!(label(&cup, "Cup").is_some(), "coffee.png has no Cup label: {}", cup["labels"]);

    let (status, found) = server.get_json("/images?label=cat").await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> =
        found["items"].as_array().expect("items").iter().filter_map(|i| i["imageId"].as_str()).collect();
    assert!(ids.contains(&cat_id.as_str()), "label query for cat: {found}");
    let (_, cups) = server.get_json("/images?label=Cup").await;
    let cup_ids: Vec<&str> =
        cups["items"].as_array().expect("items").iter().filter_map(|i| i["imageId"].as_str()).collect();
    assert!(cup_ids.contains(&cup_id.as_str()), "label query for Cup: {cups}");
}

#[tokio::test]
async fn non_images_and_decompression_bombs_are_rejected_with_a_code() {
    model_path();
    let dir = TempDir::new("rejected");
    let server = Server::signed_in(&dir.join("data"), &FAST, &[]).await;
    let text = b"These are my notes, not a photo.\nLine two.\n".repeat(20);
    let notes = server.upload(&text, "notes.jpg", "image/jpeg").await;
    let bomb = server.upload(&png_claiming(60_000, 60_000), "bomb.png", "image/png").await;
    // Each side within 10000 but 81 megapixels, over the 50 megapixel limit.
    let wide = server.upload(&png_claiming(9_000, 9_000), "wide.png", "image/png").await;

    for (id, code) in [(&notes, "UNSUPPORTED_FORMAT"), (&bomb, "DIMENSIONS_TOO_LARGE"), (&wide, "DIMENSIONS_TOO_LARGE")]
    {
        let record = server.wait_final(id, FINAL).await;
        assert_eq!(record["status"], "REJECTED", "{record}");
        assert_eq!(record["error"]["code"], code, "{record}");
        let message = record["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && !message.starts_with(code), "a sentence for people: {record}");
        assert!(record["thumbnails"].as_array().is_none_or(|t| t.is_empty()), "{record}");
        let timeline = server.wait_timeline(id, "Rejected", TIMELINE).await;
        assert_eq!(timeline_states(&timeline), ["Validate", "RecordRejected", "Rejected"], "{timeline}");
        let validate = timeline_state(&timeline, "Validate").unwrap();
        assert_eq!(validate["attempts"], 1, "ImageRejected is never retried: {validate}");
    }
}

#[tokio::test]
async fn retryable_faults_are_retried_until_done() {
    let chelsea = test_photo("chelsea.png");
    let dir = TempDir::new("retry");
    let server = Server::signed_in(
        &dir.join("data"),
        &[("IMGPIPE_TIME_SCALE", "0.01"), ("IMGPIPE_FAULTS", "detect-labels=2")],
        &[],
    )
    .await;
    let id = server.upload_file(&chelsea, "image/png").await;
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}");
    assert!(label(&record, "Cat").is_some(), "{record}");

    let timeline = server.wait_timeline(&id, "Persist", TIMELINE).await;
    assert_eq!(timeline_states(&timeline), ["Validate", "DetectLabels", "Thumbnail", "Persist"], "{timeline}");
    let detect = timeline_state(&timeline, "DetectLabels").unwrap();
    assert_eq!(detect["attempts"], 3, "{detect}");
    let errors = detect["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{detect}");
    for e in errors {
        // A code and a sentence; the cause (the injected fault's text) stays in the history.
        assert_eq!(e["code"], "STEP_FAILED", "{e}");
        assert!(!e.to_string().contains("injected fault"), "{e}");
    }
    assert_complete(&timeline);
}

#[tokio::test]
async fn faults_beyond_max_attempts_end_failed_with_the_error_stored() {
    let chelsea = test_photo("chelsea.png");
    let dir = TempDir::new("failed");
    let server = Server::signed_in(
        &dir.join("data"),
        &[("IMGPIPE_TIME_SCALE", "0.01"), ("IMGPIPE_FAULTS", "detect-labels=9")],
        &[],
    )
    .await;
    let id = server.upload_file(&chelsea, "image/png").await;
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "FAILED", "{record}");
    // Clients see a code and a sentence; the cause (the injected fault) stays in the log and history.
    assert_eq!(record["error"]["code"], "PROCESSING_FAILED", "{record}");
    let message = record["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty() && !record.to_string().contains("injected fault"), "{record}");
    assert!(record.get("executionId").is_none(), "{record}");

    let timeline = server.wait_timeline(&id, "Failed", TIMELINE).await;
    assert_eq!(timeline["status"], "FAILED", "{timeline}");
    assert_eq!(timeline_states(&timeline), ["Validate", "DetectLabels", "RecordFailed", "Failed"], "{timeline}");
    let detect = timeline_state(&timeline, "DetectLabels").unwrap();
    // MaxAttempts 4 retries after the first attempt.
    assert_eq!(detect["attempts"], 5, "{detect}");
    assert_eq!(detect["errors"].as_array().map(Vec::len), Some(5), "{detect}");
}

#[tokio::test]
async fn the_same_event_delivered_twice_leaves_one_record() {
    let chelsea = test_photo("chelsea.png");
    let dir = TempDir::new("duplicate");
    let data = dir.join("data");
    let mut server = Server::signed_in(&data, &FAST, &[]).await;
    let id = server.upload_file(&chelsea, "image/png").await;
    let first = server.wait_final(&id, FINAL).await;
    assert_eq!(first["status"], "DONE", "{first}");
    server.stop();
    drop(server);

    let event = replayed_event(&first, std::fs::metadata(&chelsea).unwrap().len());
    let event_file = dir.join("event.json");
    std::fs::write(&event_file, event.to_string()).unwrap();

    for run in 1..=2 {
        let output = sfn_run_succeeds(&imgpipe_e2e::serve::pipeline_definition_path(), &event_file, &data);
        // The run cannot claim the upload: it ends at Validate, before labels or thumbnails.
        assert_eq!(output["error"]["Error"], "DuplicateUpload", "sfn run #{run}: {output}");
        assert!(output.get("labels").is_none() && output.get("thumbnails").is_none(), "sfn run #{run}: {output}");
        assert!(output.get("record").is_none(), "a duplicate event must not write the record (run #{run}): {output}");
    }

    let server = Server::signed_in(&data, &FAST, &[]).await;
    let again = server.image(&id).await;
    assert_eq!(again["status"], "DONE", "{again}");
    assert_eq!(again["updatedAt"], first["updatedAt"], "the duplicate event did not rewrite the record: {again}");
    let (_, cats) = server.get_json("/images?label=cat").await;
    let hits = cats["items"].as_array().expect("items").iter().filter(|i| i["imageId"] == id.as_str()).count();
    assert_eq!(hits, 1, "label query after a duplicate event: {cats}");
    let (_, recent) = server.get_json("/images").await;
    let hits = recent["items"].as_array().expect("items").iter().filter(|i| i["imageId"] == id.as_str()).count();
    assert_eq!(hits, 1, "recent images after a duplicate event: {recent}");
}

#[tokio::test]
async fn sigterm_lets_running_steps_finish_and_the_queued_ones_run_after_a_restart() {
    let photos = ["chelsea.png", "coffee.png", "astronaut.png"].map(test_photo);
    let dir = TempDir::new("sigterm");
    let data = dir.join("data");
    // One step at a time: while one runs, the others queue.
    let mut server = Server::signed_in(&data, &FAST, &["--max-tasks", "1"]).await;
    let mut ids = Vec::new();
    for photo in &photos {
        ids.push(server.upload_file(photo, "image/png").await);
    }
    let mut pending = 0;
    for id in &ids {
        pending += usize::from(server.image(id).await["status"] == "PENDING");
    }
    assert!(pending > 0, "precondition: work is under way when the stop comes");
    let status = server.terminate(Duration::from_secs(60)).expect("the server stops within its drain time");
    assert!(status.success(), "a SIGTERM stop is clean: {status:?}\n{}", server.log_tail(20));
    let log = server.log_tail(40);
    let drained = log.lines().find(|l| l.contains("engine drained")).unwrap_or_else(|| panic!("no drain:\n{log}"));
    assert!(drained.contains("still_running=0"), "the running step was cut off: {drained}");
    drop(server);

    let server = Server::signed_in(&data, &FAST, &[]).await;
    for id in &ids {
        let record = server.wait_final(id, FINAL).await;
        assert_eq!(record["status"], "DONE", "{record}");
        let timeline = server.wait_timeline(id, "Persist", TIMELINE).await;
        assert_complete(&timeline);
        for state in ["Validate", "DetectLabels", "Thumbnail", "Persist"] {
            let row = timeline_state(&timeline, state).unwrap_or_else(|| panic!("no {state}: {timeline}"));
            assert_eq!(row["errors"].as_array().map(Vec::len), Some(0), "a graceful stop broke {state}: {row}");
        }
    }
}

/// The engine's stored executions (their records: description and history).
fn stored_executions(data: &std::path::Path) -> Vec<Value> {
    let dir = data.join("executions").join("executions");
    let files = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    files
        .flatten()
        .filter(|f| f.path().extension().is_some_and(|e| e == "json"))
        .map(|f| serde_json::from_slice(&std::fs::read(f.path()).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn one_signed_form_posted_three_times_runs_the_pipeline_once() {
    let chelsea = std::fs::read(test_photo("chelsea.png")).unwrap();
    let dir = TempDir::new("replay");
    let data = dir.join("data");
    let server = Server::signed_in(&data, &FAST, &[]).await;
    let presigned = server.presign("chelsea.png", "image/png", chelsea.len()).await;
    for post in 1..=3 {
        let (status, body) = server.signed_post(&presigned, &chelsea, "chelsea.png", "image/png", &[]).await;
        assert!((200..300).contains(&status), "post #{post} of the signed form: {status} {body}");
    }
    let id = presigned["imageId"].as_str().unwrap();
    let record = server.wait_final(id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}");

    // Three events, three executions; one claims the upload, two end at Validate.
    let mut executions = Vec::new();
    for _ in 0..200 {
        executions = stored_executions(&data);
        let finished = executions.iter().filter(|e| e["description"]["status"] != "RUNNING").count();
        if executions.len() == 3 && finished == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(executions.len(), 3, "one execution per posted form");
    let scheduled = |e: &Value, resource: &str| {
        e["history"].as_array().into_iter().flatten().any(|ev| {
            ev["type"] == "TaskScheduled"
                && ev["taskScheduledEventDetails"]["resource"].as_str().is_some_and(|r| r.contains(resource))
        })
    };
    let working: Vec<&Value> = executions.iter().filter(|e| scheduled(e, "detect-labels")).collect();
    assert_eq!(working.len(), 1, "DetectLabels ran in more than one execution");
    assert_eq!(executions.iter().filter(|e| scheduled(e, "thumbnail")).count(), 1, "thumbnails were made twice");
    for e in executions.iter().filter(|e| !scheduled(e, "detect-labels")) {
        assert_eq!(e["description"]["status"], "SUCCEEDED", "a duplicate run ends quietly: {}", e["description"]);
        let output: Value = serde_json::from_str(e["description"]["output"].as_str().unwrap_or("null")).unwrap();
        assert_eq!(output["error"]["Error"], "DuplicateUpload", "{output}");
    }
}

#[tokio::test]
async fn executions_killed_mid_flight_finish_after_a_restart() {
    let (chelsea, coffee) = (test_photo("chelsea.png"), test_photo("coffee.png"));
    let dir = TempDir::new("restart");
    let data = dir.join("data");
    // Retries wait seconds, so both executions are mid-flight when the server dies.
    let mut server =
        Server::signed_in(&data, &[("IMGPIPE_TIME_SCALE", "1"), ("IMGPIPE_FAULTS", "detect-labels=3")], &[]).await;
    let ids = [server.upload_file(&chelsea, "image/png").await, server.upload_file(&coffee, "image/png").await];
    // Both executions have had a DetectLabels attempt fail (from the server's own log).
    let failed_in_both = |log: &str| {
        let executions: BTreeSet<&str> = log
            .lines()
            .filter(|l| l.contains("task failed") && l.contains("DetectLabels"))
            .filter_map(|l| l.split_whitespace().find_map(|w| w.strip_prefix("execution=")))
            .collect();
        executions.len() >= 2
    };
    assert!(
        server.wait_for_log(Duration::from_secs(90), failed_in_both).await,
        "precondition: both executions should have hit the injected DetectLabels fault; log:\n{}",
        server.log_tail(40)
    );
    for id in &ids {
        let record = server.image(id).await;
        assert_eq!(record["status"], "PENDING", "precondition: still in flight before the kill: {record}");
    }
    server.kill9();
    drop(server);

    // "Executions survive a restart": without the faults, both resume and finish.
    let server = Server::signed_in(&data, &FAST, &[]).await;
    for id in &ids {
        let record = server.wait_final(id, FINAL).await;
        assert_eq!(record["status"], "DONE", "the resumed execution finishes: {record}");
        let timeline = server.wait_timeline(id, "Persist", TIMELINE).await;
        assert_eq!(timeline_states(&timeline), ["Validate", "DetectLabels", "Thumbnail", "Persist"], "{timeline}");
        assert_complete(&timeline);
        let detect = timeline_state(&timeline, "DetectLabels").unwrap();
        let attempts = detect["attempts"].as_u64().unwrap_or(0);
        assert!(attempts >= 2, "the attempts before the kill are in the history: {detect}");
        assert_eq!(detect["errors"].as_array().map(Vec::len), Some(attempts as usize - 1), "{detect}");
    }
}

#[tokio::test]
async fn a_modified_definition_is_run_as_written() {
    let chelsea = test_photo("chelsea.png");
    let dir = TempDir::new("definition");
    let text = std::fs::read_to_string(imgpipe_e2e::serve::pipeline_definition_path()).unwrap();
    let mut def: Value = serde_json::from_str(&text).unwrap();
    let states = def["States"].as_object_mut().unwrap();
    assert!(states.remove("Thumbnail").is_some());
    states.insert(
        "SkipThumbnails".into(),
        json!({ "Type": "Pass", "Result": [], "ResultPath": "$.thumbnails", "Next": "Persist" }),
    );
    def["States"]["DetectLabels"]["Next"] = json!("SkipThumbnails");
    let def_file = dir.join("no-thumbnails.asl.json");
    std::fs::write(&def_file, serde_json::to_string_pretty(&def).unwrap()).unwrap();

    let server = Server::signed_in(&dir.join("data"), &FAST, &["--definition", def_file.to_str().unwrap()]).await;
    let id = server.upload_file(&chelsea, "image/png").await;
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}");
    assert!(label(&record, "Cat").is_some(), "{record}");
    assert_eq!(record["thumbnails"], json!([]), "the definition skipped thumbnails: {record}");
    let timeline = server.wait_timeline(&id, "Persist", TIMELINE).await;
    assert_eq!(timeline_states(&timeline), ["Validate", "DetectLabels", "SkipThumbnails", "Persist"], "{timeline}");
    assert_eq!(timeline_state(&timeline, "SkipThumbnails").unwrap()["type"], "Pass", "{timeline}");
}

#[tokio::test]
async fn uploads_outside_the_signed_policy_are_refused() {
    let coffee = std::fs::read(test_photo("coffee.png")).unwrap();
    let dir = TempDir::new("policy");
    let server = Server::signed_in(&dir.join("data"), &FAST, &[]).await;

    // The presign route checks the declared file.
    for (body, code) in [
        (json!({ "filename": "a.txt", "contentType": "text/plain", "size": 10 }), "UNSUPPORTED_TYPE"),
        (json!({ "filename": "a.png", "contentType": "image/png", "size": 0 }), "EMPTY"),
        (json!({ "filename": "a.png", "contentType": "image/png", "size": 15_728_641 }), "TOO_LARGE"),
        (json!({ "filename": "a.png" }), "BAD_REQUEST"),
    ] {
        let resp = server.api(reqwest::Method::POST, "/uploads").json(&body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{body} -> {err}");
    }

    // The signed upload only accepts the declared key, type and size.
    let presigned = server.presign("coffee.png", "image/png", coffee.len()).await;
    let id = presigned["imageId"].as_str().unwrap().to_string();
    let mut longer = coffee.clone();
    longer.push(0);
    let other_key = format!("uploads/{}.png", uuid::Uuid::new_v4());
    let zeros = "0".repeat(64);
    // (what, file bytes, file content type, form fields replaced)
    type Attempt<'a> = (&'a str, &'a [u8], &'a str, Vec<(&'a str, &'a str)>);
    let attempts: [Attempt; 4] = [
        ("one byte more than declared", longer.as_slice(), "image/png", vec![]),
        ("another content type", coffee.as_slice(), "image/gif", vec![("Content-Type", "image/gif")]),
        ("another key", coffee.as_slice(), "image/png", vec![("key", other_key.as_str())]),
        ("a forged signature", coffee.as_slice(), "image/png", vec![("x-amz-signature", zeros.as_str())]),
    ];
    for (what, bytes, ct, overrides) in &attempts {
        let (status, body) = server.signed_post(&presigned, bytes, "coffee.png", ct, overrides).await;
        assert!((400..500).contains(&status), "{what}: expected a 4xx refusal, got {status} {body}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let record = server.image(&id).await;
    assert_eq!(record["status"], "PENDING", "refused uploads start nothing: {record}");

    let (status, body) = server.signed_post(&presigned, &coffee, "coffee.png", "image/png", &[]).await;
    assert!((200..300).contains(&status), "the upload as signed: {status} {body}");
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}");
}
