//! Retry counting and backoff (recorded delays), retrier order, per-retrier counters,
//! States.ALL / States.TaskFailed / States.Timeout, Catch with ResultPath.

mod common;
use asl::{DelayReason, DelayRecord, EngineOptions, TaskContext, TaskFailure, TaskFuture, TaskInvoker};
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn observed() -> (EngineOptions, Arc<Mutex<Vec<DelayRecord>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = EngineOptions {
        time_scale: 0.0,
        on_delay: Some(Arc::new(move |d: &DelayRecord| sink.lock().unwrap().push(d.clone()))),
        ..Default::default()
    };
    (options, seen)
}

fn seconds(records: &[DelayRecord]) -> Vec<f64> {
    records.iter().map(|d| d.seconds).collect()
}

fn always(error: &'static str) -> Arc<Recorder> {
    Recorder::new(move |_, _, _| Err(TaskFailure::new(error, "it broke")))
}

#[tokio::test]
async fn retries_follow_interval_and_backoff_then_fail() {
    let (options, delays) = observed();
    let inv = always("Boom");
    let def =
        task(json!({"Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}]}));
    let (d, h) = run_with(&def, json!({}), inv.clone(), options).await;
    assert_eq!(d.error.as_deref(), Some("Boom"));
    assert_eq!(d.cause.as_deref(), Some("it broke"));
    assert_eq!(inv.calls().len(), 4, "one attempt and three retries");
    assert_eq!(seconds(&delays.lock().unwrap()), vec![2.0, 6.0, 18.0]);
    assert_eq!(types(&h).iter().filter(|t| *t == "TaskFailed").count(), 4);
    let reasons: Vec<DelayReason> = delays.lock().unwrap().iter().map(|d| d.reason.clone()).collect();
    assert_eq!(reasons, (1..=3).map(|attempt| DelayReason::Retry { retrier: 0, attempt }).collect::<Vec<_>>());
}

#[tokio::test]
async fn retrier_defaults_are_interval_1_attempts_3_rate_2() {
    let (options, delays) = observed();
    let inv = always("Boom");
    let (_, _) = run_with(&task(json!({"Retry": [{"ErrorEquals": ["Boom"]}]})), json!({}), inv.clone(), options).await;
    assert_eq!(inv.calls().len(), 4);
    assert_eq!(seconds(&delays.lock().unwrap()), vec![1.0, 2.0, 4.0]);
}

#[tokio::test]
async fn max_attempts_zero_never_retries() {
    let (options, delays) = observed();
    let inv = always("Boom");
    let (d, _) = run_with(
        &task(json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 0}]})),
        json!({}),
        inv.clone(),
        options,
    )
    .await;
    assert_eq!(d.error.as_deref(), Some("Boom"));
    assert_eq!(inv.calls().len(), 1);
    assert!(delays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn max_delay_seconds_caps_the_backoff() {
    let (options, delays) = observed();
    let def = task(
        json!({"Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "BackoffRate": 10, "MaxAttempts": 4, "MaxDelaySeconds": 50}]}),
    );
    run_with(&def, json!({}), always("Boom"), options).await;
    assert_eq!(seconds(&delays.lock().unwrap()), vec![1.0, 10.0, 50.0, 50.0]);
}

#[tokio::test]
async fn full_jitter_stays_within_zero_and_the_computed_delay() {
    let (options, delays) = observed();
    let def = task(
        json!({"Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 10, "MaxAttempts": 5, "MaxDelaySeconds": 100, "JitterStrategy": "FULL"}]}),
    );
    run_with(&def, json!({}), always("Boom"), options).await;
    let got = seconds(&delays.lock().unwrap());
    let caps = [10.0, 20.0, 40.0, 80.0, 100.0];
    assert_eq!(got.len(), 5);
    for (g, cap) in got.iter().zip(caps) {
        assert!((0.0..=cap).contains(g), "{g} not in [0, {cap}]");
    }
    assert!(got.iter().zip(caps).any(|(g, c)| *g != c), "FULL jitter should randomize: {got:?}");
}

#[tokio::test]
async fn the_first_matching_retrier_is_used_even_when_exhausted() {
    let (options, delays) = observed();
    let retry = json!([
        {"ErrorEquals": ["A"], "MaxAttempts": 1, "IntervalSeconds": 5},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 7}
    ]);
    let inv = always("A");
    run_with(&task(json!({"Retry": retry.clone()})), json!({}), inv.clone(), options.clone()).await;
    assert_eq!(inv.calls().len(), 2, "A's own retrier allows one retry; States.ALL does not add more");
    assert_eq!(seconds(&delays.lock().unwrap()), vec![5.0]);
    delays.lock().unwrap().clear();
    let inv = always("B");
    run_with(&task(json!({"Retry": retry})), json!({}), inv.clone(), options).await;
    assert_eq!(inv.calls().len(), 3);
    assert_eq!(seconds(&delays.lock().unwrap()), vec![7.0, 14.0]);
}

#[tokio::test]
async fn each_retrier_keeps_its_own_counter() {
    let (options, delays) = observed();
    let inv = Recorder::new(|_, _, ctx| match ctx.attempt {
        0 | 2 => Err(TaskFailure::new("A", "")),
        1 | 3 => Err(TaskFailure::new("B", "")),
        _ => Ok(json!("finally")),
    });
    let def = task(json!({"Retry": [
        {"ErrorEquals": ["A"], "MaxAttempts": 2, "IntervalSeconds": 1},
        {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 3}
    ]}));
    let (d, _) = run_with(&def, json!({}), inv.clone(), options).await;
    assert_eq!(output(&d), json!("finally"));
    let got: Vec<(DelayReason, f64)> = delays.lock().unwrap().iter().map(|d| (d.reason.clone(), d.seconds)).collect();
    assert_eq!(
        got,
        vec![
            (DelayReason::Retry { retrier: 0, attempt: 1 }, 1.0),
            (DelayReason::Retry { retrier: 1, attempt: 1 }, 3.0),
            (DelayReason::Retry { retrier: 0, attempt: 2 }, 2.0),
            (DelayReason::Retry { retrier: 1, attempt: 2 }, 6.0),
        ]
    );
}

#[tokio::test]
async fn states_all_retries_any_error_until_success() {
    let inv =
        Recorder::new(|_, _, ctx| if ctx.attempt < 2 { Err(TaskFailure::new("Whatever", "")) } else { Ok(json!(1)) });
    let (d, _) = run(&task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}]})), json!({}), inv.clone()).await;
    assert_eq!(output(&d), json!(1));
    assert_eq!(inv.calls().len(), 3);
}

/// Sleeps for `ms` real milliseconds, then answers.
struct Slow {
    ms: u64,
    calls: Mutex<u32>,
}

impl TaskInvoker for Slow {
    fn invoke(&self, _: &str, _: Value, _: TaskContext) -> TaskFuture<'_> {
        *self.calls.lock().unwrap() += 1;
        let ms = self.ms;
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok(json!("late"))
        })
    }
}

fn millis() -> EngineOptions {
    EngineOptions { time_scale: 0.001, ..Default::default() }
}

#[tokio::test]
async fn timeout_seconds_raises_states_timeout_which_task_failed_does_not_match() {
    let slow = Arc::new(Slow { ms: 3000, calls: Mutex::new(0) });
    let def = task(json!({"TimeoutSeconds": 5, "Retry": [{"ErrorEquals": ["States.TaskFailed"]}]}));
    let (d, h) = run_with(&def, json!({}), slow.clone(), millis()).await;
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(*slow.calls.lock().unwrap(), 1, "States.TaskFailed must not retry a timeout");
    assert!(types(&h).contains(&"TaskTimedOut".to_string()));
}

#[tokio::test]
async fn states_timeout_can_be_retried_by_name_and_timeout_path_works() {
    let slow = Arc::new(Slow { ms: 3000, calls: Mutex::new(0) });
    let def = task(
        json!({"TimeoutSecondsPath": "$.limit", "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}]}),
    );
    let (d, _) = run_with(&def, json!({"limit": 2}), slow.clone(), millis()).await;
    assert_eq!(d.error.as_deref(), Some("States.Timeout"));
    assert_eq!(*slow.calls.lock().unwrap(), 2);
    // A task that finishes in time is not affected.
    let quick = Arc::new(Slow { ms: 1, calls: Mutex::new(0) });
    let (d, _) = run_with(&task(json!({"TimeoutSeconds": 10})), json!({}), quick, millis()).await;
    assert_eq!(output(&d), json!("late"));
}

#[tokio::test]
async fn task_failed_matches_ordinary_errors() {
    let mut def = task(json!({"Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]}));
    def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    let (d, _) = run(&def, json!({}), always("Custom.Error")).await;
    assert_eq!(output(&d), json!({"Error": "Custom.Error", "Cause": "it broke"}));
}

#[tokio::test]
async fn catch_with_result_path_keeps_the_input_and_goes_to_next() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Next": "Done",
              "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}],
              "Catch": [
                  {"ErrorEquals": ["Other"], "Next": "Wrong"},
                  {"ErrorEquals": ["Boom", "Bang"], "Next": "Handle", "ResultPath": "$.error"},
                  {"ErrorEquals": ["States.ALL"], "Next": "Wrong"}
              ]},
        "Handle": {"Type": "Pass", "Parameters": {"handled.$": "$.error.Error", "orig.$": "$.orig"}, "End": true},
        "Wrong": {"Type": "Fail", "Error": "WrongCatcher"},
        "Done": {"Type": "Succeed"}
    }});
    let inv = always("Boom");
    let (d, h) = run(&def, json!({"orig": 7}), inv.clone()).await;
    assert_eq!(output(&d), json!({"handled": "Boom", "orig": 7}));
    assert_eq!(inv.calls().len(), 2, "retried before being caught");
    let exited = h.iter().find(|e| e.event_type == "TaskStateExited").unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(exited.detail_str("output").unwrap()).unwrap(),
        json!({"orig": 7, "error": {"Error": "Boom", "Cause": "it broke"}})
    );
}

#[tokio::test]
async fn uncaught_errors_fail_the_execution_with_history() {
    let (d, h) =
        run(&task(json!({"Catch": [{"ErrorEquals": ["Other"], "Next": "T"}]})), json!({}), always("Boom")).await;
    assert_eq!(d.status, asl::ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("Boom"));
    let last = h.last().unwrap();
    assert_eq!(last.event_type, "ExecutionFailed");
    assert_eq!(last.detail_str("error"), Some("Boom"));
    let failed = h.iter().find(|e| e.event_type == "TaskFailed").unwrap();
    assert_eq!(failed.detail_str("cause"), Some("it broke"));
}
