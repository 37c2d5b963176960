//! End-to-end tests of the local labels (issue 13): `imgpipe process` on real photos labels with
//! the detector and the ImageNet classifier together, the user's own ONNX model joins them, and
//! the stored records (the DynamoDB image item and the result JSON) name every model that ran.
//!
//! Needs: `cargo build --workspace --bins`, the models (scripts/fetch-model.sh), IMGPIPE_TEST_PHOTOS
//! (tests/fixtures/photos.sh) and IMGPIPE_VISION_REFERENCE (tests/vision-reference/run.sh, which
//! makes the small ONNX models whose answers are known).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imgpipe_core::model::{Label, LabelSet, Status};
use imgpipe_core::table::ImageRecord;
use imgpipe_e2e::serve::{imgpipe_command, model_path, test_photo, TempDir};
use serde_json::Value;

const DETECTOR_ID: &str = "ssd_mobilenet_v2_coco@2a8d8a89d695";
const CLASSIFIER_ID: &str = "efficientnet_lite3@4a93537fcd99";

/// The custom ONNX models tests/vision-reference/make_custom_models.py made.
fn custom_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("IMGPIPE_VISION_REFERENCE").filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "IMGPIPE_VISION_REFERENCE is not set: run `export IMGPIPE_VISION_REFERENCE=$(tests/vision-reference/run.sh | tail -n 1)`"
        )
    });
    let path = PathBuf::from(dir).join("custom").join(name);
    assert!(path.is_file(), "{} is missing: run tests/vision-reference/run.sh", path.display());
    path
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run imgpipe");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A JPEG that is red all over (the colour classifier's "red", the red detector's "Red Thing").
fn red_jpeg(path: &Path) {
    let image = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([230 + (x % 20) as u8, (y % 7) as u8, 10]));
    image.save(path).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// `imgpipe process --json` on `files`; the rows by file name.
fn process(data: &Path, files: &[PathBuf], extra: &[&str], env: &[(&str, &Path)]) -> Vec<Value> {
    let mut cmd = imgpipe_command();
    cmd.args(["process", "--json", "--data"]).arg(data).args(extra).args(files);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "every file DONE:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    rows.as_array().cloned().unwrap_or_default()
}

fn row_of<'a>(rows: &'a [Value], file: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["file"].as_str().is_some_and(|f| f.ends_with(file)))
        .unwrap_or_else(|| panic!("{file}: {rows:?}"))
}

/// What the data directory holds for an image: the DynamoDB image item and the result JSON.
async fn stored(data: &Path, id: &str) -> (ImageRecord, ImageRecord) {
    let config = imgpipe_core::Config::from_env().expect("config");
    let output_bucket = config.output_bucket.clone();
    let storage = imgpipe::storage::Storage::start(imgpipe::storage::StorageOptions {
        data_dir: data.to_path_buf(),
        config,
        credentials: None,
        allowed_origins: vec![],
    })
    .await
    .expect("the data dir's storage");
    let item = storage.table.get_image(id, true).await.expect("reading the item").expect("the image item");
    assert_eq!(item.status, Status::Done, "{item:?}");
    let key = item.result_key.clone().expect("a DONE record has a result");
    let body = storage.clients.s3.get_object().bucket(output_bucket).key(key).send().await.expect("the result JSON");
    let bytes = body.body.collect().await.expect("reading the result").into_bytes();
    let result: ImageRecord = serde_json::from_slice(&bytes).expect("the result JSON is a record");
    (item, result)
}

fn labels_of(record: &ImageRecord) -> &LabelSet {
    record.labels.as_ref().unwrap_or_else(|| panic!("no labels in {record:?}"))
}

fn label<'a>(set: &'a LabelSet, name: &str) -> Option<&'a Label> {
    set.labels.iter().find(|l| l.name == name)
}

fn id_of(row: &Value) -> String {
    row["imageId"].as_str().unwrap_or_else(|| panic!("no imageId: {row}")).to_string()
}

#[tokio::test]
async fn chelsea_gets_a_boxed_cat_and_classifier_labels_and_both_records_name_both_models() {
    let dir = TempDir::new("labels-both");
    let data = dir.join("data");
    let rows = process(&data, &[test_photo("chelsea.png")], &[], &[]);
    let cat_row = row_of(&rows, "chelsea.png");
    assert!(cat_row["labels"].as_array().is_some_and(|l| l.iter().any(|l| l["name"] == "Cat")), "{cat_row}");

    let (item, result) = stored(&data, &id_of(cat_row)).await;
    for record in [&item, &result] {
        let set = labels_of(record);
        assert_eq!(set.models, [DETECTOR_ID, CLASSIFIER_ID], "{set:?}");
        let cat = label(set, "Cat").expect("Cat");
        assert!(!cat.instances.is_empty(), "the detector's box: {cat:?}");
        assert!(
            cat.sources.iter().any(|s| s == "detector") && cat.sources.iter().any(|s| s == "classifier"),
            "{cat:?}"
        );
        // Labels only the classifier gives have no box, as Rekognition's scene labels.
        let only_classifier: Vec<&Label> = set.labels.iter().filter(|l| l.sources == ["classifier"]).collect();
        assert!(!only_classifier.is_empty(), "{set:?}");
        assert!(only_classifier.iter().all(|l| l.instances.is_empty()), "{only_classifier:?}");
        assert!(label(set, "Egyptian Cat").is_some_and(|l| l.instances.is_empty()), "{set:?}");
        // One label per name, highest confidence first, none under the default 55.
        let mut names: Vec<&str> = set.labels.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), set.labels.len(), "{set:?}");
        assert!(set.labels.windows(2).all(|w| w[0].confidence >= w[1].confidence), "{set:?}");
        assert!(set.labels.iter().all(|l| l.confidence >= 55.0), "{set:?}");
    }
}

#[tokio::test]
async fn a_custom_model_from_the_environment_joins_the_local_ones_in_the_records() {
    let dir = TempDir::new("labels-custom");
    let data = dir.join("data");
    let red = dir.join("red.jpg");
    red_jpeg(&red);
    let (model, labels) = (custom_file("colour_classifier.onnx"), custom_file("colour_labels.txt"));
    let env = [("IMGPIPE_CUSTOM_MODEL", model.as_path()), ("IMGPIPE_CUSTOM_LABELS", labels.as_path())];
    let rows = process(&data, &[red, test_photo("chelsea.png")], &[], &env);

    let (item, result) = stored(&data, &id_of(row_of(&rows, "red.jpg"))).await;
    for record in [&item, &result] {
        let set = labels_of(record);
        assert_eq!(set.models.len(), 3, "{set:?}");
        assert_eq!(set.models[..2], [DETECTOR_ID, CLASSIFIER_ID], "{set:?}");
        let custom_id = &set.models[2];
        assert!(custom_id.starts_with("custom:colour_classifier.onnx@") && custom_id.len() == 42, "{custom_id}");
        let red = label(set, "red").unwrap_or_else(|| panic!("the custom model's label: {set:?}"));
        assert_eq!(red.sources, ["custom"], "{red:?}");
        assert!(red.confidence > 99.0 && red.instances.is_empty(), "{red:?}");
        assert!(label(set, "green").is_none() && label(set, "blue").is_none(), "{set:?}");
    }
    // The cat is still labelled by the local models, and its record names the custom model too.
    let (item, _) = stored(&data, &id_of(row_of(&rows, "chelsea.png"))).await;
    let set = labels_of(&item);
    assert_eq!(set.models.len(), 3, "{set:?}");
    assert!(label(set, "Cat").is_some_and(|c| !c.instances.is_empty()), "{set:?}");
}

#[test]
fn detect_runs_a_custom_detector_given_by_flags_and_reports_each_model_s_time() {
    let dir = TempDir::new("labels-detect");
    let red = dir.join("red.jpg");
    red_jpeg(&red);
    let out = run(imgpipe_command()
        .args(["detect", "--json", "--custom-model"])
        .arg(custom_file("red_detector.onnx"))
        .arg("--custom-labels")
        .arg(custom_file("red_labels.txt"))
        .arg(&red)
        .arg(test_photo("chelsea.png")));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{}", text(&out.stdout));
    let thing = rows[0]["labels"]["labels"].as_array().unwrap().iter().find(|l| l["name"] == "Red Thing").cloned();
    let thing = thing.unwrap_or_else(|| panic!("the custom detector's label: {}", rows[0]));
    assert_eq!(thing["sources"], serde_json::json!(["custom"]), "{thing}");
    let b = &thing["instances"][0]["boundingBox"];
    assert!(
        (b["left"].as_f64().unwrap() - 0.25).abs() < 1e-6 && (b["width"].as_f64().unwrap() - 0.5).abs() < 1e-6,
        "{b}"
    );
    for row in &rows {
        for key in ["decodeMs", "modelMs", "detectorMs", "classifierMs", "customMs"] {
            let ms = row[key].as_f64().unwrap_or(-1.0);
            assert!(ms > 0.0 && ms < 60_000.0, "{key} = {ms} in {row}");
        }
        // Side by side: the models' wall time is less than the sum of their own times.
        let sum = ["detectorMs", "classifierMs", "customMs"].iter().map(|k| row[k].as_f64().unwrap()).sum::<f64>();
        assert!(row["modelMs"].as_f64().unwrap() <= sum + 5.0, "{row}");
    }
    assert!(rows[1]["labels"]["labels"].as_array().unwrap().iter().any(|l| l["name"] == "Cat"), "{}", rows[1]);
}

/// A start that must fail: exit non-zero, nothing processed, and the message on stderr.
fn refused(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = imgpipe_command();
    cmd.args(args);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let started = std::time::Instant::now();
    let out = run(&mut cmd);
    assert_ne!(out.status.code(), Some(0), "{args:?} must be refused:\n{}", text(&out.stdout));
    assert!(started.elapsed().as_secs() < 60, "refused at start, not after processing");
    assert!(!text(&out.stdout).contains("DONE"), "nothing was processed: {}", text(&out.stdout));
    text(&out.stderr)
}

#[test]
fn misfit_custom_models_and_missing_files_stop_the_start_with_a_clear_message() {
    let dir = TempDir::new("labels-refused");
    let s = |p: &Path| p.to_str().expect("UTF-8 path").to_string();
    let (cat, data) = (s(&test_photo("chelsea.png")), s(&dir.join("data")));
    let (colour, colour_labels) = (s(&custom_file("colour_classifier.onnx")), s(&custom_file("colour_labels.txt")));
    let red_labels = s(&custom_file("red_labels.txt"));
    let logits = s(&custom_file("logits_classifier.onnx"));

    // Three scores, one label.
    let msg =
        refused(&["process", "--data", &data, "--custom-model", &colour, "--custom-labels", &red_labels, &cat], &[]);
    assert!(msg.contains("colour_classifier.onnx") && msg.contains("one score per label"), "{msg}");
    // Scores that are not probabilities, given through the environment.
    let env = [("IMGPIPE_CUSTOM_MODEL", Path::new(&logits)), ("IMGPIPE_CUSTOM_LABELS", Path::new(&colour_labels))];
    let msg = refused(&["process", "--data", &data, &cat], &env);
    assert!(msg.contains("logits_classifier.onnx") && msg.contains("Softmax"), "{msg}");
    // The labels file given as the model, and the model as the labels file.
    let msg = refused(&["detect", "--custom-model", &colour_labels, "--custom-labels", &colour, &cat], &[]);
    assert!(msg.contains("colour_classifier.onnx") && msg.contains("UTF-8"), "{msg}");
    // One without the other.
    let msg = refused(&["process", "--data", &data, "--custom-model", &colour, &cat], &[]);
    assert!(msg.contains("--custom-labels"), "{msg}");
    let msg = refused(&["detect", "--custom-labels", &colour_labels, &cat], &[]);
    assert!(msg.contains("--custom-model"), "{msg}");
    // A missing file is named, by `sfn run` too.
    let definition = dir.join("pass.asl.json");
    std::fs::write(&definition, r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#).unwrap();
    let args =
        ["sfn", "run", "--data", &data, "--definition", &s(&definition), "--custom-model", "/nonexistent/m.onnx"];
    let msg = refused(&[&args[..], &["--custom-labels", &colour_labels]].concat(), &[]);
    assert!(msg.contains("/nonexistent/m.onnx"), "{msg}");
}

#[test]
fn a_missing_classifier_stops_the_start_naming_the_file_and_the_fetch_script() {
    let dir = TempDir::new("labels-no-classifier");
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    // The detector alone, as an install from before the classifier existed.
    let detector = models.join("ssd_mobilenet_v2_coco.pb");
    std::os::unix::fs::symlink(model_path(), &detector).unwrap();
    let cat = test_photo("chelsea.png");
    for args in [&["process"][..], &["detect"]] {
        let mut cmd = imgpipe_command();
        cmd.args(args).arg("--model").arg(&detector).arg(&cat);
        if args == ["process"] {
            cmd.arg("--data").arg(dir.join("data"));
        }
        let out = run(&mut cmd);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        let msg = text(&out.stderr);
        assert!(msg.contains(&models.join("efficientnet_lite3.onnx").display().to_string()), "{msg}");
        assert!(msg.contains("scripts/fetch-model.sh"), "{msg}");
    }
}
