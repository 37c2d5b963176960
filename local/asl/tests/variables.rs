//! Workflow variables: Assign in both query languages (every value sees the variables from
//! before the state), `$name` reads, Parallel/Map scopes, size limits, the history and
//! durability across a restart.

mod common;
use asl::{Definition, Engine, ExecutionStatus, TaskContext, TaskFailure, TaskFuture, TaskInvoker};
use common::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const LAMBDA: &str = "arn:aws:lambda:local:000000000000:function:f";

fn load_error(def: Value) -> String {
    match Definition::parse(&def.to_string()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("should be rejected: {def}"),
    }
}

#[tokio::test]
async fn jsonpath_assign_swaps_with_the_values_from_before_the_state_and_reads_them_as_paths() {
    let def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"a": 1, "b": {"n": 2}}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "Assign": {"a.$": "$b.n", "b.$": "$a", "sum.$": "States.MathAdd($a, $b.n)"}, "Next": "Pick"},
        "Pick": {"Type": "Choice", "Choices": [{"Variable": "$a", "NumericEquals": 2, "Next": "Use"}], "Default": "Bad"},
        "Bad": {"Type": "Fail", "Error": "Wrong"},
        "Use": {"Type": "Task", "Resource": LAMBDA, "Parameters": {"a.$": "$a", "b.$": "$b", "sum.$": "$sum", "in.$": "$.x"}, "End": true}
    }});
    let rec = Recorder::echo();
    let (d, _) = run(&def, json!({"x": "input"}), rec.clone()).await;
    assert_eq!(output(&d), json!({"a": 2, "b": 1, "sum": 3, "in": "input"}));
}

#[tokio::test]
async fn jsonpath_assign_reads_the_task_result_and_a_catcher_the_error_output() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": LAMBDA, "ResultSelector": {"v.$": "$.value"}, "Assign": {"got.$": "$.v"}, "Next": "F"},
        "F": {"Type": "Task", "Resource": "fail", "Next": "End",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "ResultPath": "$.e", "Next": "End"}]},
        "End": {"Type": "Pass", "Parameters": {"got.$": "$got", "err.$": "$err"}, "End": true}
    }});
    let rec = Recorder::new(|resource, _, _| match resource {
        "fail" => Err(TaskFailure { error: "Nope".into(), cause: "c".into() }),
        _ => Ok(json!({"value": 5})),
    });
    let (d, _) = run(&def, json!({}), rec).await;
    assert_eq!(output(&d), json!({"got": 5, "err": "Nope"}));
}

#[tokio::test]
async fn jsonata_assign_sees_states_result_and_old_values_and_history_records_it() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"count": 1, "items": []}, "Next": "T"},
        "T": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"n": "{% $count %}"},
              "Assign": {"count": "{% $count + $states.result.n %}", "items": "{% $append($items, $count) %}"},
              "Output": "{% $count %}", "Next": "Done"},
        "Done": {"Type": "Pass", "Output": {"count": "{% $count %}", "items": "{% $items %}", "prev": "{% $states.input %}"}, "End": true}
    }});
    let (d, h) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"count": 2, "items": [1], "prev": 1}));
    let exited = h.iter().find(|e| e.event_type == "TaskStateExited").unwrap();
    let details = &exited.details["stateExitedEventDetails"];
    assert_eq!(details["assignedVariables"], json!({"count": "2", "items": "[1]"}));
    assert_eq!(details["assignedVariablesDetails"], json!({"truncated": false}));
    let plain =
        h.iter().find(|e| e.event_type == "PassStateExited" && e.details["stateExitedEventDetails"]["name"] == "Done");
    assert!(plain.unwrap().details["stateExitedEventDetails"].get("assignedVariables").is_none());
}

#[tokio::test]
async fn an_unset_variable_is_a_runtime_error_in_jsonpath_and_undefined_in_jsonata() {
    let path = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$nope"}, "End": true}}});
    let (d, _) = run(&path, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    let ata = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $nope %}", "End": true}}});
    let (d, _) = run(&ata, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
}

#[tokio::test]
async fn branches_read_outer_variables_and_their_own_assignments_stay_inside() {
    let branch = |name: &str| {
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"local": name}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "local.$": "$local"}, "End": true}
        }})
    };
    let mut def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "Par"},
        "Par": {"Type": "Parallel", "Branches": [branch("one"), branch("two")], "Next": "Map"},
        "Map": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Parameters": {"local.$": "$.local", "outer.$": "$outer"}, "End": true}}}}
    }});
    let (d, _) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(output(&d), json!([{"outer": "o", "local": "one"}, {"outer": "o", "local": "two"}]));
    // `$local` was only assigned inside the branches: outside it is not set.
    def["States"]["Map"] = json!({"Type": "Pass", "Parameters": {"local.$": "$local"}, "End": true});
    let (d, _) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"), "{:?}", d.cause);
}

#[test]
fn a_branch_cannot_assign_an_outer_variable() {
    let def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Assign": {"total": 0}, "Next": "M"},
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Assign": {"total": 1}, "End": true}}}}
    }});
    let e = load_error(def);
    assert!(e.contains("state 'M'") && e.contains("'I'") && e.contains("'total'") && e.contains("outer scope"), "{e}");
}

#[tokio::test]
async fn a_variable_over_256_kib_is_data_limit_exceeded() {
    let big = "x".repeat(256 * 1024);
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Assign": {"big.$": "$.s"}, "End": true}}});
    let (d, _) = run(&def, json!({"s": big}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(d.cause.unwrap().contains("'big'"));
    let small = "x".repeat(1000);
    let (d, _) = run(&def, json!({"s": small}), Recorder::echo()).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn variables_over_10_mib_together_are_data_limit_exceeded() {
    // 50 states each assign a new 250 KB variable: 12.5 MB together.
    let mut states = serde_json::Map::new();
    for i in 0..50 {
        let next = if i == 49 { json!({"End": true}) } else { json!({"Next": format!("S{}", i + 1)}) };
        let mut s = json!({"Type": "Pass", "Assign": {format!("v{i}.$"): "$.s"}});
        for (k, v) in next.as_object().unwrap() {
            s[k] = v.clone();
        }
        states.insert(format!("S{i}"), s);
    }
    let def = json!({"StartAt": "S0", "States": states});
    let (d, _) = run(&def, json!({"s": "y".repeat(250_000)}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.DataLimitExceeded"));
    assert!(d.cause.unwrap().contains("together"));
}

/// Never finishes the task of state "Block"; echoes everything else.
struct Blocking;
impl TaskInvoker for Blocking {
    fn invoke(&self, _: &str, input: Value, ctx: TaskContext) -> TaskFuture<'_> {
        Box::pin(async move {
            if ctx.state_name == "Block" {
                std::future::pending::<()>().await;
            }
            Ok(input)
        })
    }
}

#[tokio::test]
async fn variables_survive_a_restart() {
    let dir = std::env::temp_dir().join(format!("asl-variables-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let definition = Definition::parse(
        &json!({"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
            "Init": {"Type": "Pass", "Assign": {"kept": "{% $states.input.k %}"}, "Next": "Block"},
            "Block": {"Type": "Task", "Resource": LAMBDA, "Next": "After"},
            "After": {"Type": "Pass", "Output": {"kept": "{% $kept %}"}, "End": true}
        }})
        .to_string(),
    )
    .unwrap();
    let engine = Engine::open(dir.clone(), Arc::new(Blocking), fast()).unwrap();
    let sm = engine.register_state_machine("m", definition.clone());
    let arn = engine.start_execution(&sm, Some("restart".into()), json!({"k": "value"})).await.unwrap();
    for _ in 0..500 {
        if engine.history(&arn).iter().any(|e| e.event_type == "TaskStarted") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(engine);
    let engine = Engine::open(dir.clone(), Recorder::echo(), fast()).unwrap();
    assert_eq!(engine.resume_unfinished().await, 1);
    let d = tokio::time::timeout(Duration::from_secs(10), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(output(&d), json!({"kept": "value"}));
    let _ = std::fs::remove_dir_all(&dir);
}
