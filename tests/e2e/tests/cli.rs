//! End-to-end tests of the `imgpipe` command line (process, show, query, thumbnail, detect, sfn run),
//! run as the real binary on private data directories.
//!
//! Needs: `cargo build --workspace --bins`, the model (scripts/fetch-model.sh) and
//! IMGPIPE_TEST_PHOTOS (tests/fixtures/photos.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use imgpipe_e2e::serve::{decoded_size, gradient_jpeg, imgpipe_command, test_photo, TempDir};
use serde_json::{json, Value};

/// The exit code, stdout and stderr of a finished command.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn run(cmd: &mut Command) -> Outcome {
    let out = cmd.output().expect("run imgpipe");
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn imgpipe(args: &[&str]) -> Command {
    let mut cmd = imgpipe_command();
    cmd.args(args);
    cmd
}

fn json_stdout(out: &Outcome) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// The machine code of a row's refusal: `error.code`, or the `CODE:` before the reason's sentence.
fn row_code(row: &Value) -> Option<String> {
    if let Some(code) = row["error"]["code"].as_str() {
        return Some(code.to_string());
    }
    let reason = row["reason"].as_str()?;
    Some(reason.split(':').next()?.trim().to_string())
}

/// A folder with a real photo, a generated JPEG, a text file named .jpg, an empty file and a
/// JPEG cut off in its scan data.
fn mixed_folder(dir: &TempDir) -> std::path::PathBuf {
    let folder = dir.join("mixed");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(test_photo("chelsea.png"), folder.join("chelsea.png")).unwrap();
    write(&folder.join("generated.jpg"), &gradient_jpeg(320, 240));
    write(&folder.join("bad.jpg"), &b"just some text pretending to be a photo\n".repeat(10));
    write(&folder.join("empty.jpg"), b"");
    let whole = gradient_jpeg(640, 480);
    write(&folder.join("truncated.jpg"), &whole[..whole.len() * 6 / 10]);
    folder
}

#[test]
fn process_a_mixed_folder_then_show_and_query_the_records() {
    let dir = TempDir::new("cli-process");
    let folder = mixed_folder(&dir);
    let data = dir.join("data");
    let out = run(imgpipe(&["process", "--json", "--data"]).arg(&data).arg(&folder));
    assert_eq!(out.code, Some(1), "some files failed, so exit 1:\n{out}");
    let rows = json_stdout(&out);
    let rows = rows.as_array().unwrap_or_else(|| panic!("expected a JSON array of rows:\n{out}"));
    let by_name: BTreeMap<String, &Value> = rows
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap_or_else(|| panic!("row without file: {r}"));
            (Path::new(file).file_name().unwrap().to_string_lossy().into_owned(), r)
        })
        .collect();
    assert_eq!(
        by_name.keys().map(String::as_str).collect::<Vec<_>>(),
        ["bad.jpg", "chelsea.png", "empty.jpg", "generated.jpg", "truncated.jpg"],
        "a row per file:\n{out}"
    );
    for (name, code) in [("bad.jpg", "UNSUPPORTED_FORMAT"), ("empty.jpg", "EMPTY"), ("truncated.jpg", "CORRUPT")] {
        let row = by_name[name];
        assert_eq!(row["status"], "REJECTED", "{name}: {row}");
        assert_eq!(row_code(row).as_deref(), Some(code), "{name}: {row}");
    }
    for name in ["chelsea.png", "generated.jpg"] {
        let row = by_name[name];
        assert_eq!(row["status"], "DONE", "{name}: {row}");
        assert_eq!(row["thumbnails"], 2, "{name}: {row}");
    }
    let cat = by_name["chelsea.png"];
    assert_eq!((cat["width"].as_u64(), cat["height"].as_u64()), (Some(451), Some(300)), "{cat}");
    let names: Vec<&str> = cat["labels"].as_array().into_iter().flatten().filter_map(|l| l["name"].as_str()).collect();
    assert!(names.contains(&"Cat"), "chelsea.png is a cat: {cat}");
    let cat_id = cat["imageId"].as_str().unwrap_or_else(|| panic!("no imageId: {cat}")).to_string();

    // show: the record of a processed image.
    let out = run(imgpipe(&["show", &cat_id, "--data"]).arg(&data));
    assert_eq!(out.code, Some(0), "{out}");
    let record = json_stdout(&out);
    assert_eq!(record["imageId"], cat_id.as_str(), "{out}");
    assert_eq!(record["status"], "DONE", "{out}");
    assert!(record["labels"].as_array().is_some_and(|l| l.iter().any(|l| l["name"] == "Cat")), "{out}");

    // show: an id that is not there, and one that is not an id.
    let unknown = uuid::Uuid::new_v4().to_string();
    let out = run(imgpipe(&["show", &unknown, "--data"]).arg(&data));
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains(&unknown), "the message names the id:\n{out}");
    let out = run(imgpipe(&["show", "not-an-id", "--data"]).arg(&data));
    assert_eq!(out.code, Some(1), "{out}");
    assert!(!out.stderr.trim().is_empty(), "{out}");

    // query: the label's access pattern.
    let out = run(imgpipe(&["query", "--label", "Cat", "--data"]).arg(&data));
    assert_eq!(out.code, Some(0), "{out}");
    let found = json_stdout(&out);
    let ids: Vec<&str> =
        found["items"].as_array().into_iter().flatten().filter_map(|i| i["imageId"].as_str()).collect();
    assert_eq!(ids, [cat_id.as_str()], "only chelsea is a cat:\n{out}");
    let out = run(imgpipe(&["query", "--label", "Cat", "--min-confidence", "100.5", "--data"]).arg(&data));
    assert_ne!(out.code, Some(0), "an impossible confidence is refused:\n{out}");
}

#[test]
fn process_good_files_exits_zero_with_a_table_row_per_file() {
    let dir = TempDir::new("cli-table");
    let folder = dir.join("good");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(test_photo("coffee.png"), folder.join("coffee.png")).unwrap();
    write(&folder.join("generated.jpg"), &gradient_jpeg(400, 300));
    let out = run(imgpipe(&["process", "--data"]).arg(dir.join("data")).arg(&folder));
    assert_eq!(out.code, Some(0), "{out}");
    for name in ["coffee.png", "generated.jpg"] {
        let rows: Vec<&str> = out.stdout.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(rows.len(), 1, "one row for {name}:\n{out}");
        assert!(rows[0].split_whitespace().any(|w| w == "DONE"), "{name} is DONE:\n{out}");
    }
    let coffee = out.stdout.lines().find(|l| l.contains("coffee.png")).unwrap();
    assert!(coffee.contains("600x400"), "size column:\n{out}");
    assert!(coffee.contains("Cup"), "labels column:\n{out}");
}

#[test]
fn thumbnail_writes_jpegs_of_the_requested_sizes_and_refuses_non_images() {
    let dir = TempDir::new("cli-thumb");
    let out_dir = dir.join("out");
    let photo = test_photo("chelsea.png"); // 451x300
    let out = run(imgpipe(&["thumbnail", "--sizes", "512,128", "--out"]).arg(&out_dir).arg(&photo));
    assert_eq!(out.code, Some(0), "{out}");
    let mut sides = BTreeSet::new();
    let files: Vec<_> = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 2, "two thumbnails: {files:?}\n{out}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "{} is a JPEG", f.display());
        let (w, h) = decoded_size(&bytes);
        let expected_h = f64::from(w) * 300.0 / 451.0;
        assert!((expected_h - f64::from(h)).abs() <= 1.0, "aspect ratio of {w}x{h}");
        sides.insert(w.max(h));
    }
    // 512 is larger than the photo, which is never upscaled.
    assert_eq!(sides, BTreeSet::from([128, 451]), "{out}");

    let text = dir.join("notes.jpg");
    write(&text, b"not an image at all\n");
    let out = run(imgpipe(&["thumbnail", "--out"]).arg(dir.join("out2")).arg(&text));
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("UNSUPPORTED_FORMAT"), "{out}");
}

#[test]
fn detect_names_what_is_in_real_photos_with_timings_and_refuses_non_images() {
    let dir = TempDir::new("cli-detect");
    let (cat, coffee) = (test_photo("chelsea.png"), test_photo("coffee.png"));
    let out = run(imgpipe(&["detect", "--json"]).arg(&cat).arg(&coffee));
    assert_eq!(out.code, Some(0), "{out}");
    let rows: Vec<Value> =
        out.stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(rows.len(), 2, "a JSON line per photo:\n{out}");
    for (row, expected) in rows.iter().zip(["Cat", "Cup"]) {
        let names: Vec<&str> =
            row["labels"]["labels"].as_array().unwrap().iter().filter_map(|l| l["name"].as_str()).collect();
        assert!(names.contains(&expected), "{expected} in {row}");
        for key in ["decodeMs", "modelMs"] {
            let ms = row[key].as_f64().unwrap_or(-1.0);
            assert!(ms > 0.0 && ms < 60_000.0, "{key} = {ms} in {row}");
        }
    }
    // --min-confidence 100 keeps nothing, and says so.
    let out = run(imgpipe(&["detect", "--min-confidence", "100"]).arg(&cat));
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("(no labels)"), "{out}");

    let text = dir.join("notes.jpg");
    write(&text, b"not an image at all\n");
    let out = run(imgpipe(&["detect"]).arg(&text).arg(&cat));
    assert_eq!(out.code, Some(1), "one refused file fails the command:\n{out}");
    assert!(out.stderr.contains("UNSUPPORTED_FORMAT"), "{out}");
    assert!(out.stdout.contains("Cat"), "the other file is still labelled:\n{out}");
}

const CHOICE_DEFINITION: &str = r#"{
  "StartAt": "Classify",
  "States": {
    "Classify": {
      "Type": "Choice",
      "Choices": [{ "Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big" }],
      "Default": "TooSmall"
    },
    "Big": { "Type": "Pass", "Parameters": { "size": "big", "n.$": "$.n", "double.$": "States.MathAdd($.n, $.n)" }, "End": true },
    "TooSmall": { "Type": "Fail", "Error": "TooSmall", "Cause": "n must be over 10" }
  }
}"#;

fn sfn_run(dir: &TempDir, definition: &Path, input: &str, extra: &[&str]) -> Outcome {
    run(imgpipe(&["sfn", "run", "--input", input])
        .arg("--definition")
        .arg(definition)
        .arg("--data")
        .arg(dir.join("data"))
        .args(extra)
        .env("IMGPIPE_TIME_SCALE", "0.01"))
}

#[test]
fn sfn_run_reports_success_failure_and_bad_definitions_by_exit_code() {
    let dir = TempDir::new("cli-sfn");
    let def = dir.join("choice.asl.json");
    write(&def, CHOICE_DEFINITION.as_bytes());

    let out = sfn_run(&dir, &def, r#"{"n": 42}"#, &[]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(json_stdout(&out), json!({ "size": "big", "n": 42, "double": 84 }), "{out}");

    let input = dir.join("input.json");
    write(&input, br#"{"n": 3}"#);
    let out = sfn_run(&dir, &def, &format!("@{}", input.display()), &[]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(json_stdout(&out), json!({ "error": "TooSmall", "cause": "n must be over 10" }), "{out}");

    let bad = dir.join("bad.asl.json");
    write(&bad, br#"{"StartAt": "Nowhere", "States": {"Here": {"Type": "Succeed"}}}"#);
    let out = sfn_run(&dir, &bad, "{}", &[]);
    assert_eq!(out.code, Some(2), "a StartAt naming no state:\n{out}");
    assert!(!out.stderr.trim().is_empty(), "{out}");

    write(&bad, br#"{"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}"#);
    let out = sfn_run(&dir, &bad, "{}", &[]);
    assert_eq!(out.code, Some(2), "an unknown state type:\n{out}");

    write(&bad, b"{ not json");
    let out = sfn_run(&dir, &bad, "{}", &[]);
    assert_eq!(out.code, Some(2), "not JSON:\n{out}");
}

const JSONATA_DEFINITION: &str = r#"{
  "QueryLanguage": "JSONata",
  "StartAt": "Remember",
  "States": {
    "Remember": { "Type": "Pass", "Assign": { "order": "{% $states.input.order %}" }, "Next": "Charge" },
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge",
      "Arguments": { "order": "{% $order %}" },
      "Assign": { "amount": "{% $states.result.amount %}" },
      "Retry": [{ "ErrorEquals": ["Retryable"], "IntervalSeconds": 1, "MaxAttempts": 2 }],
      "Next": "Big?"
    },
    "Big?": {
      "Type": "Choice",
      "Choices": [{ "Condition": "{% $amount > 10 %}", "Next": "Done" }],
      "Default": "Small"
    },
    "Done": { "Type": "Succeed", "Output": { "order": "{% $order %}", "amount": "{% $amount %}" } },
    "Small": { "Type": "Fail", "Error": "Small", "Cause": "{% 'only ' & $string($amount) %}" }
  }
}"#;

#[test]
fn sfn_run_takes_a_jsonata_definition_with_variables_and_a_mock_config() {
    let dir = TempDir::new("cli-jsonata");
    let def = dir.join("OrderFlow.json");
    write(&def, JSONATA_DEFINITION.as_bytes());
    let mocks = dir.join("mocks.json");
    write(&mocks, MOCK_CONFIG.as_bytes());
    let args = ["--mock-config", &mocks.display().to_string(), "--test-case", "BusyOnce"].map(String::from);
    let out = sfn_run(&dir, &def, r#"{"order": 7}"#, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(json_stdout(&out), json!({ "order": 7, "amount": 12 }), "{out}");

    let bad = dir.join("bad.asl.json");
    write(&bad, JSONATA_DEFINITION.replace("\"Arguments\"", "\"Parameters\"").as_bytes());
    let out = sfn_run(&dir, &bad, "{}", &[]);
    assert_eq!(out.code, Some(2), "a JSONPath field in a JSONata state:\n{out}");
    assert!(out.stderr.contains("Charge") && out.stderr.contains("Parameters"), "{out}");
}

const TASK_DEFINITION: &str = r#"{
  "StartAt": "Charge",
  "States": {
    "Charge": {
      "Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge",
      "ResultPath": "$.charge",
      "Retry": [{ "ErrorEquals": ["Retryable"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2 }],
      "Next": "Done"
    },
    "Done": { "Type": "Succeed" }
  }
}"#;

const MOCK_CONFIG: &str = r#"{
  "StateMachines": {
    "OrderFlow": {
      "TestCases": {
        "BusyOnce": { "Charge": "BusyThenCharged" },
        "AlwaysBusy": { "Charge": "Busy" }
      }
    }
  },
  "MockedResponses": {
    "BusyThenCharged": {
      "0": { "Throw": { "Error": "Retryable", "Cause": "payment service busy" } },
      "1": { "Return": { "charged": true, "amount": 12 } }
    },
    "Busy": {
      "0-5": { "Throw": { "Error": "Retryable", "Cause": "payment service busy" } }
    }
  }
}"#;

#[test]
fn sfn_run_answers_tasks_from_a_step_functions_local_mock_config() {
    let dir = TempDir::new("cli-mock");
    let def = dir.join("OrderFlow.json");
    write(&def, TASK_DEFINITION.as_bytes());
    let mocks = dir.join("mocks.json");
    write(&mocks, MOCK_CONFIG.as_bytes());
    let mock_args = |case: &'static str| {
        ["--mock-config".to_string(), mocks.display().to_string(), "--test-case".into(), case.into()]
    };

    let args = mock_args("BusyOnce");
    let out = sfn_run(&dir, &def, r#"{"order": 7}"#, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.code, Some(0), "retried once, then the mocked return:\n{out}");
    assert_eq!(json_stdout(&out), json!({ "order": 7, "charge": { "charged": true, "amount": 12 } }), "{out}");

    // Always throwing: 1 attempt + MaxAttempts 2 retries, then the error is the execution's.
    let args = mock_args("AlwaysBusy");
    let out = sfn_run(&dir, &def, r#"{"order": 7}"#, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(json_stdout(&out), json!({ "error": "Retryable", "cause": "payment service busy" }), "{out}");
}
