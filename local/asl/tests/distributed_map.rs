//! Distributed Map as AWS documents it: ItemReader (listObjectsV2, getObject JSON/JSONL/CSV,
//! MaxItems), ItemSelector, ItemBatcher, MaxConcurrency, tolerated failures, Label,
//! ResultWriter, the Map Run events, and a Map Run killed and resumed. S3 is an in-memory fake
//! of the three actions behind the TaskInvoker (the real one is tested in local/imgpipe).

mod common;
mod s3_world;
use asl::{error_names, Definition, Engine, ExecutionStatus, HistoryEvent, TaskContext, TaskFuture, TaskInvoker};
use common::*;
use s3_world::{dmap, fail_when, World};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn event<'a>(history: &'a [HistoryEvent], kind: &str) -> Option<&'a HistoryEvent> {
    history.iter().find(|e| e.event_type == kind)
}

#[tokio::test]
async fn items_path_selector_and_the_map_run_events() {
    let world = World::echo();
    let def = dmap(json!({
        "ItemsPath": "$.things",
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
        "Label": "Things"
    }));
    let (d, history) = run(&def, json!({"things": ["a", "b", "c"], "tag": 7}), world.clone()).await;
    assert_eq!(
        output(&d),
        json!([
            {"value": "a", "index": 0, "tag": 7},
            {"value": "b", "index": 1, "tag": 7},
            {"value": "c", "index": 2, "tag": 7}
        ])
    );
    let kinds = types(&history);
    let at = |k: &str| kinds.iter().position(|t| t == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert!(at("MapStateEntered") < at("MapRunStarted"));
    assert!(at("MapRunStarted") < at("MapRunSucceeded"));
    assert!(at("MapRunSucceeded") < at("MapStateExited"));
    assert!(!kinds.iter().any(|k| k == "TaskScheduled"), "children have their own histories");
    let arn = event(&history, "MapRunStarted").unwrap().detail_str("mapRunArn").unwrap();
    assert!(arn.starts_with("arn:aws:states:local:000000000000:mapRun:test/Things:"), "{arn}");
}

#[tokio::test]
async fn list_objects_v2_pages_through_the_prefix_and_gives_objects_as_items() {
    let world = World::echo();
    for k in ["in/a.jpg", "in/b.jpg", "in/c.jpg", "in/d.jpg", "in/e.jpg", "other/x.jpg"] {
        world.put(k, "12345");
    }
    let def = dmap(json!({
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data", "Prefix.$": "$.prefix"}}
    }));
    let (d, _) = run(&def, json!({"prefix": "in/"}), world.clone()).await;
    let out = output(&d);
    let keys: Vec<&str> = out.as_array().unwrap().iter().map(|i| i["Key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["in/a.jpg", "in/b.jpg", "in/c.jpg", "in/d.jpg", "in/e.jpg"]);
    assert_eq!(
        out[0],
        json!({"Etag": "\"etag-in/a.jpg\"", "Key": "in/a.jpg", "LastModified": 1704164645, "Size": 5, "StorageClass": "STANDARD"})
    );
    let lists = world.list_calls.lock().unwrap().clone();
    assert_eq!(lists.len(), 3, "5 objects in pages of 2");
    assert_eq!(lists[1]["ContinuationToken"], json!("in/b.jpg"));
}

#[tokio::test]
async fn get_object_reads_json_jsonl_and_csv_and_max_items_stops_early() {
    let world = World::echo();
    world.put("a.json", r#"[{"n": 1}, {"n": 2}, {"n": 3}]"#);
    world.put("a.jsonl", "{\"n\": 1}\n{\"n\": 2}\n\n{\"n\": 3}\n");
    world.put("a.csv", "n,name\n1,\"Smith, J\"\n2,b\n3,c\n");
    world.put("b.csv", "1,a\n2,b\n");
    let reader = |key: &str, config: Value| {
        dmap(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
                                    "Parameters": {"Bucket": "data", "Key": key}}}))
    };
    let (d, _) = run(&reader("a.json", json!({"InputType": "JSON"})), json!({}), world.clone()).await;
    assert_eq!(output(&d), json!([{"n": 1}, {"n": 2}, {"n": 3}]));
    let (d, _) = run(&reader("a.jsonl", json!({"InputType": "JSONL", "MaxItems": 2})), json!({}), world.clone()).await;
    assert_eq!(output(&d), json!([{"n": 1}, {"n": 2}]));
    let (d, _) =
        run(&reader("a.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})), json!({}), world.clone())
            .await;
    assert_eq!(output(&d), json!([{"n": "1", "name": "Smith, J"}, {"n": "2", "name": "b"}, {"n": "3", "name": "c"}]));
    let given =
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["id", "v"], "MaxItemsPath": "$.max"});
    let (d, _) = run(&reader("b.csv", given), json!({"max": 1}), world.clone()).await;
    assert_eq!(output(&d), json!([{"id": "1", "v": "a"}]));
}

#[tokio::test]
async fn item_batcher_groups_by_count_with_batch_input() {
    let world = World::echo();
    let def = dmap(json!({
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.per", "BatchInput": {"run.$": "$.run"}}
    }));
    let (d, _) = run(&def, json!([1, 2, 3, 4, 5]), world.clone()).await;
    // The Map input is the array itself here, so BatchInput's path reads from it: use an object.
    assert_eq!(d.status, ExecutionStatus::Failed, "MaxItemsPerBatchPath on an array input cannot resolve");
    let def = dmap(json!({
        "ItemsPath": "$.items",
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.per", "BatchInput": {"run.$": "$.run"}}
    }));
    let (d, _) = run(&def, json!({"items": [1, 2, 3, 4, 5], "per": 2, "run": "r1"}), world.clone()).await;
    assert_eq!(
        output(&d),
        json!([
            {"BatchInput": {"run": "r1"}, "Items": [1, 2]},
            {"BatchInput": {"run": "r1"}, "Items": [3, 4]},
            {"BatchInput": {"run": "r1"}, "Items": [5]}
        ])
    );
}

#[tokio::test]
async fn item_batcher_groups_by_bytes_and_an_item_over_the_limit_fails_the_reader() {
    let world = World::echo();
    // {"Items":[]} is 12 bytes; each "xxxxxxxx" item is 10 bytes, plus a comma after the first.
    let def = dmap(json!({"ItemsPath": "$.items", "ItemBatcher": {"MaxInputBytesPerBatch": 33}}));
    let items = json!({"items": ["xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxxxx"]});
    let (d, _) = run(&def, items, world.clone()).await;
    let batches = output(&d);
    let sizes: Vec<usize> = batches.as_array().unwrap().iter().map(|b| b["Items"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    for b in batches.as_array().unwrap() {
        assert!(b.to_string().len() <= 33, "{b} is over the limit");
    }
    let (d, _) = run(&def, json!({"items": ["x".repeat(40)]}), world.clone()).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some(error_names::ITEM_READER_FAILED));
    assert!(d.cause.unwrap().contains("MaxInputBytesPerBatch"));
}

#[tokio::test]
async fn without_tolerance_one_failed_item_fails_the_map_run() {
    let world = World::new(fail_when("bad"));
    let def = dmap(json!({"ItemsPath": "$.items"}));
    let (d, history) = run(&def, json!({"items": [{"n": 1}, {"n": 2, "bad": true}]}), world).await;
    assert_eq!(d.error.as_deref(), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD));
    let failed = event(&history, "MapRunFailed").expect("MapRunFailed");
    assert_eq!(failed.detail_str("error"), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD));
    assert!(event(&history, "MapStateFailed").is_some());
}

#[tokio::test]
async fn tolerated_failure_count_and_percentage_exceeded_or_not() {
    let items: Vec<Value> =
        (0..10).map(|n| if n < 3 { json!({"n": n, "bad": true}) } else { json!({"n": n}) }).collect();
    let input = json!({"items": items, "pct": 30});
    let cases = [
        (json!({"ToleratedFailureCount": 3}), true),
        (json!({"ToleratedFailureCount": 2}), false),
        (json!({"ToleratedFailurePercentage": 30}), true),
        (json!({"ToleratedFailurePercentagePath": "$.pct"}), true),
        (json!({"ToleratedFailurePercentage": 29.9}), false),
        (json!({"ToleratedFailureCountPath": "$.pct", "ToleratedFailurePercentage": 10}), false),
    ];
    for (fields, passes) in cases {
        let mut fields_all = fields.clone();
        fields_all["ItemsPath"] = json!("$.items");
        let world = World::new(fail_when("bad"));
        let (d, _) = run(&dmap(fields_all), input.clone(), world.clone()).await;
        if passes {
            let out = output(&d);
            assert_eq!(out.as_array().unwrap().len(), 10, "{fields}");
            assert_eq!(out[0]["Status"], json!("FAILED"), "a tolerated failure gives its execution result: {out}");
            assert_eq!(out[0]["Error"], json!("Boom"));
            assert_eq!(out[5], json!({"ok": 5}));
        } else {
            assert_eq!(d.error.as_deref(), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD), "{fields}");
        }
    }
}

#[tokio::test]
async fn exceeding_the_threshold_can_be_caught() {
    let world = World::new(fail_when("bad"));
    let mut def = dmap(json!({"ItemsPath": "$.items",
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Handled"}]}));
    def["States"]["M"].as_object_mut().unwrap().remove("End");
    def["States"]["M"]["Next"] = json!("Done");
    def["States"]["Done"] = json!({"Type": "Succeed"});
    def["States"]["Handled"] = json!({"Type": "Pass", "Result": "handled", "End": true});
    let (d, _) = run(&def, json!({"items": [{"bad": true}]}), world).await;
    assert_eq!(output(&d), json!("handled"));
}

#[tokio::test]
async fn result_writer_exports_manifest_and_result_files_and_returns_their_location() {
    let world = World::new(fail_when("bad"));
    let def = dmap(json!({
        "ItemsPath": "$.items",
        "ToleratedFailureCount": 1,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "data", "Prefix": "results/"}}
    }));
    let (d, _) = run(&def, json!({"items": [{"n": 1}, {"n": 2, "bad": true}, {"n": 3}]}), world.clone()).await;
    let out = output(&d);
    let map_run_arn = out["MapRunArn"].as_str().unwrap();
    let run_id = map_run_arn.rsplit(':').next().unwrap();
    let manifest_key = format!("results/{run_id}/manifest.json");
    assert_eq!(out["ResultWriterDetails"], json!({"Bucket": "data", "Key": manifest_key}));
    let manifest: Value = serde_json::from_str(&world.get("data", &manifest_key).unwrap()).unwrap();
    assert_eq!(manifest["DestinationBucket"], json!("data"));
    assert_eq!(manifest["MapRunArn"], json!(map_run_arn));
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let succeeded_key = format!("results/{run_id}/SUCCEEDED_0.json");
    let body = world.get("data", &succeeded_key).unwrap();
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": succeeded_key, "Size": body.len()}]));
    let succeeded: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(succeeded.len(), 2);
    assert_eq!(succeeded[0]["Status"], json!("SUCCEEDED"));
    assert_eq!(succeeded[0]["Output"], json!("{\"ok\":1}"));
    assert_eq!(succeeded[0]["Input"], json!("{\"n\":1}"));
    assert!(succeeded[0]["ExecutionArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:states:local:000000000000:execution:test/M:"));
    let failed: Vec<Value> =
        serde_json::from_str(&world.get("data", &format!("results/{run_id}/FAILED_0.json")).unwrap()).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!((failed[0]["Status"].as_str(), failed[0]["Error"].as_str()), (Some("FAILED"), Some("Boom")));
}

#[tokio::test]
async fn a_failed_map_run_still_writes_its_results_with_the_items_never_run_as_pending() {
    let world = World::new(fail_when("bad"));
    let def = dmap(json!({
        "ItemsPath": "$.items",
        "MaxConcurrency": 1,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "data", "Prefix": "r"}}
    }));
    let (d, history) = run(&def, json!({"items": [{"n": 0, "bad": true}, {"n": 1}, {"n": 2}]}), world.clone()).await;
    assert_eq!(d.error.as_deref(), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD));
    assert_eq!(world.work_calls().len(), 1, "MaxConcurrency 1: nothing else started after the failure");
    let arn = event(&history, "MapRunStarted").unwrap().detail_str("mapRunArn").unwrap();
    let run_id = arn.rsplit(':').next().unwrap();
    let pending: Vec<Value> =
        serde_json::from_str(&world.get("data", &format!("r/{run_id}/PENDING_0.json")).unwrap()).unwrap();
    assert_eq!(pending.len(), 2);
    assert!(world.get("data", &format!("r/{run_id}/manifest.json")).is_some());
}

#[tokio::test]
async fn max_concurrency_bounds_the_children_running_at_once() {
    let running = Arc::new(Mutex::new((0usize, 0usize)));
    struct Gate(Arc<Mutex<(usize, usize)>>);
    impl TaskInvoker for Gate {
        fn invoke(&self, _: &str, input: Value, _: TaskContext) -> TaskFuture<'_> {
            let state = self.0.clone();
            Box::pin(async move {
                {
                    let mut s = state.lock().unwrap();
                    s.0 += 1;
                    s.1 = s.1.max(s.0);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                state.lock().unwrap().0 -= 1;
                Ok(input)
            })
        }
    }
    let def = dmap(json!({"MaxConcurrency": 3}));
    let (d, _) = run(&def, json!((0..20).collect::<Vec<_>>()), Arc::new(Gate(running.clone()))).await;
    assert_eq!(output(&d).as_array().unwrap().len(), 20);
    let peak = running.lock().unwrap().1;
    assert!((1..=3).contains(&peak), "peak concurrency {peak}");
}

#[tokio::test]
async fn reader_and_writer_failures_have_aws_error_names() {
    let world = World::echo();
    world.put("obj.json", r#"{"not": "an array"}"#);
    world.put("bad.csv", "a,b\n1,2,3\n");
    let get = |key: &str, t: Value| {
        dmap(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": t,
                                    "Parameters": {"Bucket": "data", "Key": key}}}))
    };
    let cases = [
        (get("obj.json", json!({"InputType": "JSON"})), "must be an array"),
        (get("bad.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})), "row 2 has 3 fields"),
        (get("missing.json", json!({"InputType": "JSON"})), "NoSuchKey"),
        (
            dmap(
                json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "nope"}}}),
            ),
            "NoSuchBucket",
        ),
    ];
    for (def, cause) in cases {
        let (d, history) = run(&def, json!({}), world.clone()).await;
        assert_eq!(d.error.as_deref(), Some(error_names::ITEM_READER_FAILED), "{cause}");
        assert!(d.cause.as_deref().unwrap_or_default().contains(cause), "{:?} lacks {cause}", d.cause);
        assert!(event(&history, "MapStateFailed").is_some());
    }
    let def =
        dmap(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "nope"}}}));
    let (d, _) = run(&def, json!([1]), world).await;
    assert_eq!(d.error.as_deref(), Some(error_names::RESULT_WRITER_FAILED));
}

#[tokio::test]
async fn a_listing_that_never_ends_is_a_reader_failure_not_a_loop() {
    struct Forever;
    impl TaskInvoker for Forever {
        fn invoke(&self, _: &str, _: Value, _: TaskContext) -> TaskFuture<'_> {
            Box::pin(async { Ok(json!({"Contents": [], "IsTruncated": true, "NextContinuationToken": "same"})) })
        }
    }
    let def =
        dmap(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}}));
    let (d, _) = run(&def, json!({}), Arc::new(Forever)).await;
    assert_eq!(d.error.as_deref(), Some(error_names::ITEM_READER_FAILED));
    assert!(d.cause.unwrap().contains("no new NextContinuationToken"));
}

#[tokio::test]
async fn many_items_in_batches_with_a_huge_max_concurrency() {
    let world = World::new(|v| Some(Ok(json!(v["Items"].as_array().map(Vec::len)))));
    let lines: String = (0..50_000).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    world.put("big.jsonl", &lines);
    let def = dmap(json!({
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": "data", "Key": "big.jsonl"}},
        "ItemBatcher": {"MaxItemsPerBatch": 1000},
        "MaxConcurrency": 1_000_000_000_000u64
    }));
    let (d, _) = run(&def, json!({}), world.clone()).await;
    let out = output(&d);
    assert_eq!(out.as_array().unwrap().len(), 50);
    assert!(out.as_array().unwrap().iter().all(|n| n == &json!(1000)));
}

#[tokio::test]
async fn distributed_fields_are_validated_at_load() {
    let bad = [
        (json!({"ProcessorConfig": {"Mode": "DISTRIBUTED"}}), json!({}), "ExecutionType"),
        (
            json!({"ProcessorConfig": {"Mode": "INLINE"}}),
            json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}),
            "DISTRIBUTED",
        ),
        (json!({}), json!({"Label": "has space"}), "Label"),
        (json!({}), json!({"ToleratedFailurePercentage": 101}), "ToleratedFailurePercentage"),
        (json!({}), json!({"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.x"}), "only one"),
        (json!({}), json!({"ItemBatcher": {}}), "MaxItemsPerBatch"),
        (json!({}), json!({"ItemBatcher": {"MaxItemsPerBatch": 0}}), "positive"),
        (
            json!({}),
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}, "ReaderConfig": {"InputType": "PARQUET"}}}),
            "InputType",
        ),
        (
            json!({}),
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b"}, "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "a"]}}}),
            "twice",
        ),
        (
            json!({}),
            json!({"ItemReader": {"Resource": "arn:aws:states:::dynamodb:scan", "Parameters": {}}}),
            "not supported",
        ),
        (
            json!({}),
            json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {}}}),
            "putObject",
        ),
    ];
    for (processor_config, fields, message) in bad {
        let mut def = dmap(fields);
        if processor_config.as_object().is_some_and(|o| !o.is_empty()) {
            def["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = processor_config["ProcessorConfig"].clone();
        }
        let err = Definition::parse(&def.to_string()).expect_err(message).to_string();
        assert!(err.contains(message), "{err} should mention {message}");
    }
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_map_run_killed_and_resumed_does_not_redo_finished_items() {
    let dir = TempDir(std::env::temp_dir().join(format!("asl-dmap-{}", uuid::Uuid::new_v4())));
    let def = Definition::parse(&dmap(json!({"ItemsPath": "$.items", "MaxConcurrency": 1})).to_string()).unwrap();
    let input = json!({"items": (0..6).map(|n| json!({"n": n})).collect::<Vec<_>>()});
    // First run: items 0..3 finish, item 3 never answers; then the engine is dropped (a crash).
    let first = World::new(|v| if v["n"].as_u64() < Some(3) { Some(Ok(json!({"ok": v["n"]}))) } else { None });
    let arn = {
        let engine = Engine::open(dir.0.clone(), first.clone(), fast()).unwrap();
        let sm = engine.register_state_machine("test", def.clone());
        let arn = engine.start_execution(&sm, Some("resume".into()), input).await.unwrap();
        for _ in 0..500 {
            if first.work_calls().len() == 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(first.work_calls().len(), 4, "three items done and the fourth started");
        tokio::time::sleep(Duration::from_millis(20)).await;
        arn
    };
    // Second start over the same store: only the unfinished items run.
    let second = World::new(|v| Some(Ok(json!({"ok": v["n"]}))));
    let engine = Engine::open(dir.0.clone(), second.clone(), fast()).unwrap();
    engine.register_state_machine("test", def);
    assert_eq!(engine.resume_unfinished().await, 1);
    let d = tokio::time::timeout(Duration::from_secs(10), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(output(&d), json!((0..6).map(|n| json!({"ok": n})).collect::<Vec<_>>()));
    let redone: Vec<u64> = second.work_calls().iter().filter_map(|v| v["n"].as_u64()).collect();
    assert_eq!(redone, [3, 4, 5], "finished items are not run again; the one running at the crash is");
    let history = engine.history(&arn);
    assert_eq!(history.iter().filter(|e| e.event_type == "MapRunStarted").count(), 1, "one Map Run, resumed");
    assert_eq!(engine.list_executions().len(), 1);
    let leftovers: Vec<_> = walk(&dir.0).into_iter().filter(|p| p.to_string_lossy().contains("mapruns")).collect();
    assert!(leftovers.is_empty(), "the Map Run's files are removed when the execution ends: {leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[tokio::test]
async fn the_keys_written_by_result_writer_are_the_only_objects_added() {
    let world = World::echo();
    let def = dmap(json!({
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "data"}}
    }));
    let (d, _) = run(&def, json!([1, 2]), world.clone()).await;
    let out = output(&d);
    let key = out["ResultWriterDetails"]["Key"].as_str().unwrap();
    let run_id = out["MapRunArn"].as_str().unwrap().rsplit(':').next().unwrap();
    assert_eq!(key, format!("{run_id}/manifest.json"), "no prefix: the files go under the run id");
    assert_eq!(world.keys("data"), [format!("{run_id}/SUCCEEDED_0.json"), format!("{run_id}/manifest.json")]);
}

#[tokio::test]
async fn bad_paths_in_the_distributed_fields_are_runtime_errors() {
    let world = World::echo();
    world.put("one.json", "[1]");
    let cases = [
        json!({"ItemsPath": "$.items", "ToleratedFailurePercentagePath": "$.pct"}),
        json!({"ItemsPath": "$.items", "ToleratedFailureCountPath": "$.missing"}),
        json!({"ItemsPath": "$.items", "MaxConcurrencyPath": "$.pct"}),
        json!({"ItemsPath": "$.items", "ItemBatcher": {"MaxInputBytesPerBatchPath": "$.pct"}}),
        json!({"ItemsPath": "$.items", "ItemSelector": {"v.$": "$.nothing"}}),
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                              "Parameters": {"Bucket": "data", "Key": "one.json"}},
               "ItemSelector": {"v.$": "$$.Map.Item.Value.nothing"}}),
    ];
    for fields in cases {
        let (d, _) = run(&dmap(fields.clone()), json!({"items": [1], "pct": "lots"}), world.clone()).await;
        assert_eq!(d.error.as_deref(), Some(error_names::RUNTIME), "{fields}: {:?}", d.cause);
    }
    assert!(world.work_calls().is_empty(), "no child ran");
}

#[tokio::test]
async fn a_resumed_map_run_does_not_read_its_items_again() {
    let dir = TempDir(std::env::temp_dir().join(format!("asl-dmap-{}", uuid::Uuid::new_v4())));
    let def = Definition::parse(
        &dmap(json!({
            "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data"}},
            "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
            "MaxConcurrency": 1
        }))
        .to_string(),
    )
    .unwrap();
    let first = World::new(|v| if v["key"] == json!("a") { Some(Ok(v.clone())) } else { None });
    for k in ["a", "b", "c"] {
        first.put(k, "x");
    }
    let arn = {
        let engine = Engine::open(dir.0.clone(), first.clone(), fast()).unwrap();
        let sm = engine.register_state_machine("test", def.clone());
        let arn = engine.start_execution(&sm, Some("reread".into()), json!({})).await.unwrap();
        for _ in 0..500 {
            if first.work_calls().len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(first.work_calls().len(), 2);
        arn
    };
    // The bucket is empty now: a resumed run that listed it again would find nothing.
    let second = World::echo();
    let engine = Engine::open(dir.0.clone(), second.clone(), fast()).unwrap();
    engine.register_state_machine("test", def);
    engine.resume_unfinished().await;
    let d = tokio::time::timeout(Duration::from_secs(10), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(output(&d), json!([{"key": "a"}, {"key": "b"}, {"key": "c"}]));
    assert!(second.list_calls.lock().unwrap().is_empty(), "the items came from the saved Map Run");
    assert_eq!(second.work_calls(), [json!({"key": "b"}), json!({"key": "c"})]);
}
