//! Wait, Fail, Succeed, Parallel and Map states.

mod common;
use asl::{DelayReason, DelayRecord, EngineOptions, TaskContext, TaskFailure, TaskFuture, TaskInvoker};
use common::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn observed() -> (EngineOptions, Arc<Mutex<Vec<DelayRecord>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (
        EngineOptions {
            time_scale: 0.0,
            on_delay: Some(Arc::new(move |d: &DelayRecord| sink.lock().unwrap().push(d.clone()))),
            ..Default::default()
        },
        seen,
    )
}

fn wait(fields: Value) -> Value {
    let mut state = json!({"Type": "Wait", "Next": "Done"});
    for (k, v) in fields.as_object().unwrap() {
        state[k] = v.clone();
    }
    json!({"StartAt": "W", "States": {"W": state, "Done": {"Type": "Succeed"}}})
}

#[tokio::test]
async fn wait_seconds_path_reads_the_input() {
    let (options, delays) = observed();
    let (d, h) =
        run_with(&wait(json!({"SecondsPath": "$.delay"})), json!({"delay": 42}), Recorder::echo(), options).await;
    assert_eq!(output(&d), json!({"delay": 42}));
    let got = delays.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].reason.clone(), got[0].seconds, got[0].state_name.as_str()), (DelayReason::Wait, 42.0, "W"));
    assert!(types(&h).starts_with(&["ExecutionStarted".into(), "WaitStateEntered".into(), "WaitStateExited".into()]));
}

#[tokio::test]
async fn wait_seconds_path_must_be_a_non_negative_integer() {
    for bad in [json!({"delay": "ten"}), json!({"delay": -1}), json!({})] {
        let (d, _) = run(&wait(json!({"SecondsPath": "$.delay"})), bad.clone(), Recorder::echo()).await;
        assert_eq!(d.error.as_deref(), Some("States.Runtime"), "{bad}");
    }
}

#[tokio::test]
async fn wait_is_real_time_scaled() {
    let options = EngineOptions { time_scale: 0.05, ..Default::default() };
    let started = std::time::Instant::now();
    let (d, _) = run_with(&wait(json!({"Seconds": 2})), json!({}), Recorder::echo(), options).await;
    output(&d);
    assert!(started.elapsed() >= std::time::Duration::from_millis(100), "2 s x 0.05 = 100 ms at least");
}

#[tokio::test]
async fn wait_timestamps() {
    let (options, delays) = observed();
    let future =
        (chrono::Utc::now() + chrono::Duration::seconds(100)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    run_with(&wait(json!({"TimestampPath": "$.at"})), json!({"at": future}), Recorder::echo(), options.clone()).await;
    run_with(&wait(json!({"Timestamp": "2000-01-01T00:00:00Z"})), json!({}), Recorder::echo(), options).await;
    let got = delays.lock().unwrap().clone();
    assert!(got[0].seconds > 95.0 && got[0].seconds <= 100.0, "{}", got[0].seconds);
    assert_eq!(got[1].seconds, 0.0, "a past timestamp does not wait");
    let (d, _) = run(&wait(json!({"TimestampPath": "$.at"})), json!({"at": "yesterday"}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn fail_with_literal_and_paths() {
    let lit = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Bad", "Cause": "because"}}});
    let (d, h) = run(&lit, json!({}), Recorder::echo()).await;
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("Bad"), Some("because")));
    assert_eq!(types(&h), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);

    let paths = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e.name", "CausePath": "States.Format('code {}', $.e.code)"}}});
    let (d, _) = run(&paths, json!({"e": {"name": "ImageRejected", "code": "TOO_SMALL"}}), Recorder::echo()).await;
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("ImageRejected"), Some("code TOO_SMALL")));

    let (d, _) = run(&paths, json!({"e": {"name": 5, "code": "x"}}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"), "ErrorPath must select a string");
}

#[tokio::test]
async fn succeed_applies_input_and_output_paths() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    let (d, _) = run(&def, json!({"a": {"b": [1]}}), Recorder::echo()).await;
    assert_eq!(output(&d), json!([1]));
}

#[tokio::test]
async fn parallel_outputs_branch_results_in_order() {
    let inv = Recorder::new(|resource, input, _| Ok(json!(format!("{resource}:{}", input["n"]))));
    let branch = |r: &str, extra: Value| json!({"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": r, "Next": "After"}, "After": extra}});
    let def = json!({"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "Parameters": {"n.$": "$.n"}, "ResultSelector": {"all.$": "$"}, "ResultPath": "$.out", "End": true,
        "Branches": [
            branch("first", json!({"Type": "Wait", "Seconds": 1, "End": true})),
            branch("second", json!({"Type": "Pass", "End": true})),
            branch("third", json!({"Type": "Succeed"}))
        ]
    }}});
    let (d, h) = run(&def, json!({"n": 3}), inv.clone()).await;
    assert_eq!(output(&d), json!({"n": 3, "out": {"all": ["first:3", "second:3", "third:3"]}}));
    let t = types(&h);
    for ev in ["ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited"] {
        assert!(t.contains(&ev.to_string()), "{ev} missing from {t:?}");
    }
    assert_eq!(t.iter().filter(|x| *x == "TaskStateEntered").count(), 3);
}

#[tokio::test]
async fn a_failing_branch_fails_the_parallel_and_can_be_caught() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Ok",
              "Catch": [{"ErrorEquals": ["BranchBroke"], "Next": "Caught", "ResultPath": "$.err"}],
              "Branches": [
                  {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                  {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BranchBroke", "Cause": "no"}}}
              ]},
        "Ok": {"Type": "Succeed"},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let (d, h) = run(&def, json!({"x": 1}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"x": 1, "err": {"Error": "BranchBroke", "Cause": "no"}}));
    assert!(types(&h).contains(&"ParallelStateFailed".to_string()));
}

/// Tracks how many invocations run at once.
struct Gauge {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl TaskInvoker for Gauge {
    fn invoke(&self, _: &str, input: Value, _: TaskContext) -> TaskFuture<'_> {
        Box::pin(async move {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            if input["item"] == json!("bad") {
                return Err(TaskFailure::new("BadItem", "bad"));
            }
            Ok(json!({"done": input}))
        })
    }
}

fn map_def(max: u64) -> Value {
    json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": max, "End": true,
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "prefix.$": "$.prefix"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": "work", "OutputPath": "$.done", "End": true}
        }}
    }}})
}

#[tokio::test]
async fn map_keeps_item_order_and_honours_max_concurrency() {
    let gauge = Arc::new(Gauge { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) });
    let items: Vec<Value> = (0..8).map(|i| json!(format!("i{i}"))).collect();
    let (d, h) = run(&map_def(2), json!({"items": items, "prefix": "p"}), gauge.clone()).await;
    let out = output(&d);
    let expected: Vec<Value> = (0..8).map(|i| json!({"item": format!("i{i}"), "index": i, "prefix": "p"})).collect();
    assert_eq!(out, json!(expected));
    assert_eq!(gauge.peak.load(Ordering::SeqCst), 2, "MaxConcurrency 2 allows exactly two at once here");
    let t = types(&h);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationStarted").count(), 8);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationSucceeded").count(), 8);
    let started = h.iter().find(|e| e.event_type == "MapStateStarted").unwrap();
    assert_eq!(started.detail().unwrap()["length"], json!(8));

    let gauge = Arc::new(Gauge { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) });
    run(&map_def(0), json!({"items": items, "prefix": "p"}), gauge.clone()).await;
    assert!(gauge.peak.load(Ordering::SeqCst) > 2, "MaxConcurrency 0 means no limit");
}

#[tokio::test]
async fn map_with_legacy_iterator_and_parameters() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.xs", "ResultPath": "$.ys", "End": true,
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.v)"}, "OutputPath": "$.d", "End": true}}}
    }}});
    let (d, _) = run(&def, json!({"xs": [1, 2, 3]}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"xs": [1, 2, 3], "ys": [2, 4, 6]}));
}

#[tokio::test]
async fn a_failing_iteration_fails_the_map() {
    let gauge = Arc::new(Gauge { now: AtomicUsize::new(0), peak: AtomicUsize::new(0) });
    let (d, h) = run(&map_def(1), json!({"items": ["a", "bad", "c"], "prefix": ""}), gauge).await;
    assert_eq!(d.error.as_deref(), Some("BadItem"));
    let t = types(&h);
    assert!(t.contains(&"MapIterationFailed".to_string()) && t.contains(&"MapStateFailed".to_string()), "{t:?}");
}

#[tokio::test]
async fn map_items_path_must_select_an_array() {
    let (d, _) = run(&map_def(1), json!({"items": "nope", "prefix": ""}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    let (d, _) = run(&map_def(1), json!({"items": [], "prefix": ""}), Recorder::echo()).await;
    assert_eq!(output(&d), json!([]));
}

#[tokio::test]
async fn execution_timeout_seconds_times_the_execution_out() {
    let def =
        json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}});
    let (d, h) =
        run_with(&def, json!({}), Recorder::echo(), EngineOptions { time_scale: 0.01, ..Default::default() }).await;
    assert_eq!(d.status, asl::ExecutionStatus::TimedOut);
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(h.last().unwrap().event_type, "ExecutionTimedOut");
}

#[tokio::test]
async fn huge_waits_do_not_panic() {
    let engine = asl::Engine::in_memory(Recorder::echo(), EngineOptions::default()).unwrap();
    let def = asl::Definition::parse(&wait(json!({"SecondsPath": "$.s"})).to_string()).unwrap();
    let sm = engine.register_state_machine("w", def);
    let arn = engine.start_execution(&sm, None, json!({"s": u64::MAX})).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(engine.describe(&arn).unwrap().status, asl::ExecutionStatus::Running, "still waiting, not crashed");
    let def = json!({"TimeoutSeconds": 99999999, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let (d, _) = run_with(&def, json!({}), Recorder::echo(), EngineOptions::default()).await;
    output(&d);
}
