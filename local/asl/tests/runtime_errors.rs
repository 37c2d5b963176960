//! The runtime errors the engine raises, checked against AWS's documented behaviour
//! ("Handling errors in Step Functions workflows", "Error names"):
//! - a path that matches nothing (InputPath, Parameters, ResultSelector, ItemSelector, an intrinsic's
//!   argument, OutputPath) is `States.Runtime`, and `States.Runtime` is never retried or caught,
//!   not by `States.ALL`, `States.TaskFailed` nor its own name;
//! - a payload over 256 KiB is `States.DataLimitExceeded`, which `States.ALL` and
//!   `States.TaskFailed` do not match but its own name does;
//! - `States.ResultPathMatchFailure`, `States.IntrinsicFailure` and `States.NoChoiceMatched` are
//!   ordinary errors that `States.ALL` catches; a failing Parallel branch keeps its error name.

mod common;
use asl::{ExecutionStatus, TaskFailure};
use common::*;
use serde_json::{json, Value};

/// A Task state with `fields`, caught by `catch` into a Pass state `Caught` (error at `$.err`).
fn caught_task(fields: Value, catch: &[&str]) -> Value {
    let mut def = task(fields);
    def["States"]["T"]["Catch"] = json!([{"ErrorEquals": catch, "Next": "Caught", "ResultPath": "$.err"}]);
    def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    def
}

/// Every way a retrier or catcher could name an error.
const WILDCARDS: [&[&str]; 3] = [&["States.ALL"], &["States.TaskFailed"], &["States.Runtime"]];

#[tokio::test]
async fn a_missing_parameters_path_is_states_runtime_and_nothing_catches_it() {
    for catch in WILDCARDS {
        let mut def = caught_task(json!({"Parameters": {"x.$": "$.missing"}}), catch);
        def["States"]["T"]["Retry"] = json!([{"ErrorEquals": ["States.ALL"]}]);
        let inv = Recorder::echo();
        let (d, h) = run(&def, json!({"a": 1}), inv.clone()).await;
        assert_eq!(d.status, ExecutionStatus::Failed, "{catch:?}");
        assert_eq!(d.error.as_deref(), Some("States.Runtime"), "{catch:?}");
        let cause = d.cause.unwrap();
        assert!(cause.contains("state 'T'") && cause.contains("'$.missing'") && cause.contains("'x.$'"), "{cause}");
        assert!(inv.calls().is_empty(), "the task must not run");
        assert!(!types(&h).contains(&"TaskStateExited".to_string()), "{:?}", types(&h));
    }
}

#[tokio::test]
async fn a_missing_result_selector_path_is_states_runtime_after_the_task_ran() {
    let def = caught_task(json!({"ResultSelector": {"y.$": "$.nope"}}), &["States.ALL"]);
    let inv = Recorder::new(|_, _, _| Ok(json!({"out": 1})));
    let (d, _) = run(&def, json!({}), inv.clone()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("'y.$'"));
    assert_eq!(inv.calls().len(), 1);
}

#[tokio::test]
async fn a_missing_item_selector_path_is_states_runtime() {
    let mut def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "ItemSelector": {"v.$": "$.nope"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
              "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}
    }});
    def["States"]["Caught"] = json!({"Type": "Succeed"});
    let (d, _) = run(&def, json!([1, 2]), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn a_missing_intrinsic_argument_is_states_runtime_not_an_intrinsic_failure() {
    let def = caught_task(json!({"Parameters": {"n.$": "States.ArrayLength($.nope)"}}), &["States.ALL"]);
    let (d, _) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.unwrap().contains("'$.nope'"));
}

#[tokio::test]
async fn a_missing_output_path_is_not_caught_either() {
    let def = caught_task(json!({"OutputPath": "$.nope"}), &["States.ALL"]);
    let (d, _) = run(&def, json!({"a": 1}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn result_path_match_failure_is_an_ordinary_error_that_states_all_catches() {
    let def = caught_task(json!({"ResultPath": "$.a.b"}), &["States.ALL"]);
    let (d, _) = run(&def, json!({"a": "text"}), Recorder::echo()).await;
    let out = output(&d);
    assert_eq!(out["err"]["Error"], json!("States.ResultPathMatchFailure"));
    assert_eq!(out["a"], json!("text"), "the catcher's ResultPath applies to the raw input");
}

#[tokio::test]
async fn intrinsic_failure_is_caught_by_states_all_and_task_failed() {
    for catch in [&["States.ALL"][..], &["States.TaskFailed"]] {
        let def = caught_task(json!({"Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"}}), catch);
        let (d, _) = run(&def, json!({"a": [1]}), Recorder::echo()).await;
        assert_eq!(output(&d)["err"]["Error"], json!("States.IntrinsicFailure"), "{catch:?}");
    }
}

/// A string whose JSON is a little over the 256 KiB payload limit.
fn too_big() -> Value {
    json!("x".repeat(256 * 1024))
}

#[tokio::test]
async fn a_task_result_over_256_kib_is_data_limit_exceeded_which_states_all_does_not_catch() {
    for catch in [&["States.ALL"][..], &["States.TaskFailed"]] {
        let mut def = caught_task(json!({}), catch);
        def["States"]["T"]["Retry"] = json!([{"ErrorEquals": ["States.ALL"]}]);
        let inv = Recorder::new(|_, _, _| Ok(too_big()));
        let (d, _) = run(&def, json!({}), inv.clone()).await;
        assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"), "{catch:?}");
        assert_eq!(inv.calls().len(), 1, "States.ALL must not retry it");
        assert!(d.cause.unwrap().contains("task result"));
    }
}

#[tokio::test]
async fn data_limit_exceeded_is_caught_by_its_own_name() {
    let def = caught_task(json!({"ResultPath": null}), &["States.DataLimitExceeded"]);
    let (d, _) = run(&def, json!({"small": true}), Recorder::new(|_, _, _| Ok(too_big()))).await;
    let out = output(&d);
    assert_eq!(out["err"]["Error"], json!("States.DataLimitExceeded"));
    assert_eq!(out["small"], json!(true));
}

#[tokio::test]
async fn parameters_over_256_kib_fail_before_the_task_runs() {
    let big = "y".repeat(140 * 1024);
    let def = task(json!({"Parameters": {"a.$": "$.s", "b.$": "$.s"}}));
    let inv = Recorder::echo();
    let (d, _) = run(&def, json!({ "s": big }), inv.clone()).await;
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(d.cause.unwrap().contains("after Parameters"));
    assert!(inv.calls().is_empty());
}

#[tokio::test]
async fn a_pass_state_output_over_256_kib_fails_the_execution() {
    let (d, _) = run(&pass(json!({"Result": too_big()})), json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    let (d, _) = run(&pass(json!({"Result": "x".repeat(200 * 1024)})), json!({}), Recorder::echo()).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "under the limit is fine");
}

#[tokio::test]
async fn no_choice_matched_in_a_branch_keeps_its_name_and_the_parallel_catch_takes_it() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
              "Branches": [{"StartAt": "C", "States": {"C": {"Type": "Choice",
                  "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}]},
                  "D": {"Type": "Succeed"}}}]},
        "Caught": {"Type": "Pass", "End": true}
    }});
    let (d, _) = run(&def, json!({"n": 2}), Recorder::echo()).await;
    assert_eq!(output(&d)["Error"], json!("States.NoChoiceMatched"), "not States.BranchFailed");
}

#[tokio::test]
async fn task_errors_such_as_states_permissions_pass_through_to_the_matchers() {
    let def = caught_task(json!({}), &["States.TaskFailed"]);
    let inv = Recorder::new(|_, _, _| Err(TaskFailure::new("States.Permissions", "denied")));
    let (d, _) = run(&def, json!({}), inv).await;
    assert_eq!(output(&d)["err"], json!({"Error": "States.Permissions", "Cause": "denied"}));
}
