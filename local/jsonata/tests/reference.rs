//! Compares this crate with the reference JSONata (npm `jsonata`, the version AWS Step Functions
//! pins) over the corpus in `tests/jsonata-reference`: `corpus.json`, then every `corpus-*.json`
//! in name order (their `inputs` are merged). The expected results come from
//! `tests/jsonata-reference/run.sh` (run by scripts/test.sh, which exports
//! IMGPIPE_JSONATA_REFERENCE); without that variable the test runs the script itself, and skips
//! only when `node` is not installed.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn expected_file() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("IMGPIPE_JSONATA_REFERENCE") {
        return Some(PathBuf::from(path));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return None;
    }
    let output = Command::new(repo_root().join("tests/jsonata-reference/run.sh"))
        .output()
        .expect("tests/jsonata-reference/run.sh could not be started");
    assert!(output.status.success(), "run.sh failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    Some(PathBuf::from(stdout.lines().last().expect("run.sh printed no path").trim()))
}

fn numbers_close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// JSON equality with numbers compared as doubles (the reference's JSON and ours may spell
/// the same double differently).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => numbers_close(x, y),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Checks one case; `Err` describes the difference.
fn check(case: &Value, expected: &Value, inputs: &Map<String, Value>) -> Result<(), String> {
    let expression = case["expr"].as_str().ok_or("case without expr")?;
    let input = case["input"].as_str().map(|name| &inputs[name]);
    let bindings = case.get("bindings").and_then(Value::as_object).cloned().unwrap_or_default();
    let actual = jsonata::Expression::parse(expression).and_then(|e| e.evaluate(input, &bindings));
    match (expected.get("result"), expected.get("error"), actual) {
        (Some(want), _, Ok(Some(got))) if json_equal(want, &got) => Ok(()),
        (None, None, Ok(None)) => Ok(()),
        (_, Some(code), Err(error)) if code == "NO_CODE" || code.as_str() == Some(error.code) => Ok(()),
        (_, _, got) => Err(format!("{expression}\n    reference: {expected}\n    this crate: {got:?}")),
    }
}

/// The corpus files in the order run.sh passes them to the reference: merged inputs, all cases.
fn load_corpus() -> (Map<String, Value>, Vec<Value>) {
    let dir = repo_root().join("tests/jsonata-reference");
    let mut extra: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/jsonata-reference")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("corpus-") && name.ends_with(".json")
        })
        .collect();
    extra.sort();
    let (mut inputs, mut cases) = (Map::new(), Vec::new());
    for path in std::iter::once(dir.join("corpus.json")).chain(extra) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let corpus: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Some(more) = corpus.get("inputs").and_then(Value::as_object) {
            inputs.extend(more.clone());
        }
        cases.extend(corpus["cases"].as_array().cloned().unwrap_or_default());
    }
    (inputs, cases)
}

#[test]
fn results_match_the_reference_implementation() {
    let Some(expected_path) = expected_file() else {
        eprintln!("SKIPPED: node is not installed, so the JSONata reference results cannot be produced");
        return;
    };
    let (inputs, cases) = load_corpus();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&expected_path).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
    )
    .expect("expected results are JSON");
    assert_eq!(expected["jsonata"], "2.0.6", "the reference must be the version Step Functions pins");
    let known: Vec<String> = include_str!("known-differences.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(" #").next().unwrap_or(l).to_string())
        .collect();
    let results = expected["results"].as_array().expect("results");
    assert_eq!(cases.len(), results.len(), "stale reference results: rerun tests/jsonata-reference/run.sh");
    let mut passed = 0;
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for (case, result) in cases.iter().zip(results) {
        assert_eq!(case["expr"], result["expr"], "stale reference results: rerun tests/jsonata-reference/run.sh");
        let listed = known.iter().any(|k| Some(k.as_str()) == case["expr"].as_str());
        match check(case, result, &inputs) {
            Ok(()) if listed => now_passing.push(case["expr"].to_string()),
            Ok(()) => passed += 1,
            Err(_) if listed => {}
            Err(difference) => unexpected.push(difference),
        }
    }
    println!(
        "JSONata reference corpus: {passed} of {} cases match ({:.1}%), {} known differences",
        cases.len(),
        100.0 * passed as f64 / cases.len() as f64,
        known.len()
    );
    assert!(unexpected.is_empty(), "{} cases differ from the reference:\n{}", unexpected.len(), unexpected.join("\n"));
    assert!(now_passing.is_empty(), "known differences that now match (remove them from the list): {now_passing:?}");
}
