//! Input and output processing: InputPath -> Parameters -> task -> ResultSelector -> ResultPath
//! -> OutputPath, the context object and the path error names.

mod common;
use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn processing_order_input_parameters_task_selector_resultpath_output() {
    let inv = Recorder::new(|_, input, _| Ok(json!({"r": {"v": input["x"].as_i64().unwrap() * 10}, "junk": 1})));
    let def = task(json!({
        "InputPath": "$.a",
        "Parameters": {"x.$": "$.b", "static": 1, "nested": {"s.$": "$$.State.Name"}},
        "ResultSelector": {"value.$": "$.r.v"},
        "ResultPath": "$.a.result",
        "OutputPath": "$.a"
    }));
    let (d, _) = run(&def, json!({"a": {"b": 4, "keep": true}, "other": 1}), inv.clone()).await;
    let calls = inv.calls();
    assert_eq!(calls.len(), 1);
    // The task saw Parameters built from the InputPath-selected input.
    assert_eq!(calls[0].input, json!({"x": 4, "static": 1, "nested": {"s": "T"}}));
    // ResultPath merged the selected result into the raw input; OutputPath picked from that.
    assert_eq!(output(&d), json!({"b": 4, "keep": true, "result": {"value": 40}}));
}

#[tokio::test]
async fn default_paths_pass_the_whole_input_and_replace_it_with_the_result() {
    let inv = Recorder::new(|_, _, _| Ok(json!({"done": true})));
    let (d, _) = run(&task(json!({})), json!({"in": 1}), inv.clone()).await;
    assert_eq!(inv.calls()[0].input, json!({"in": 1}));
    assert_eq!(output(&d), json!({"done": true}));
}

#[tokio::test]
async fn null_paths_discard() {
    let inv = Recorder::new(|_, _, _| Ok(json!("result")));
    let (d, _) = run(&task(json!({"InputPath": null, "ResultPath": null})), json!({"in": 1}), inv.clone()).await;
    assert_eq!(inv.calls()[0].input, json!({}), "InputPath null gives the task {{}}");
    assert_eq!(output(&d), json!({"in": 1}), "ResultPath null keeps the input");
    let (d, _) = run(&task(json!({"OutputPath": null})), json!({"in": 1}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({}), "OutputPath null outputs {{}}");
}

#[tokio::test]
async fn parameters_accept_multi_node_paths_and_arrays() {
    let def = pass(json!({"Parameters": {"ids.$": "$.items[*].id", "list": [{"first.$": "$.items[0].id"}, 2]}}));
    let (d, _) = run(&def, json!({"items": [{"id": "a"}, {"id": "b"}]}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"ids": ["a", "b"], "list": [{"first": "a"}, 2]}));
}

#[tokio::test]
async fn pass_result_with_result_path() {
    let def = pass(json!({"Result": {"x": 1}, "ResultPath": "$.added"}));
    let (d, _) = run(&def, json!({"in": true}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"in": true, "added": {"x": 1}}));
}

#[tokio::test]
async fn context_object_fields() {
    let def = pass(json!({"Parameters": {
        "id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input",
        "start.$": "$$.Execution.StartTime", "role.$": "$$.Execution.RoleArn",
        "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime", "retries.$": "$$.State.RetryCount",
        "smId.$": "$$.StateMachine.Id", "smName.$": "$$.StateMachine.Name"
    }}));
    let (d, _) = run(&def, json!({"k": "v"}), Recorder::echo()).await;
    let out = output(&d);
    assert_eq!(out["id"], json!(d.execution_arn));
    assert_eq!(d.execution_arn, "arn:aws:states:local:000000000000:execution:test:run");
    assert_eq!(out["name"], json!("run"));
    assert_eq!(out["input"], json!({"k": "v"}));
    assert_eq!(out["start"], json!(d.start_date));
    assert!(out["role"].as_str().unwrap().starts_with("arn:aws:iam::"));
    assert_eq!(out["state"], json!("P"));
    let entered = chrono::DateTime::parse_from_rfc3339(out["entered"].as_str().unwrap()).unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(&d.start_date).unwrap();
    assert!(entered >= started);
    assert_eq!(out["retries"], json!(0));
    assert_eq!(out["smId"], json!("arn:aws:states:local:000000000000:stateMachine:test"));
    assert_eq!(out["smName"], json!("test"));
}

#[tokio::test]
async fn context_retry_count_grows_with_each_retry() {
    let inv = Recorder::new(|_, input, _| {
        if input["rc"].as_u64().unwrap() < 2 {
            Err(asl::TaskFailure::new("Flaky", "again"))
        } else {
            Ok(json!("ok"))
        }
    });
    let def = task(json!({"Parameters": {"rc.$": "$$.State.RetryCount"}, "Retry": [{"ErrorEquals": ["Flaky"]}]}));
    let (d, _) = run(&def, json!({}), inv.clone()).await;
    assert_eq!(output(&d), json!("ok"));
    let seen: Vec<Value> = inv.calls().iter().map(|c| c.input["rc"].clone()).collect();
    assert_eq!(seen, vec![json!(0), json!(1), json!(2)]);
    let attempts: Vec<u32> = inv.calls().iter().map(|c| c.ctx.attempt).collect();
    assert_eq!(attempts, vec![0, 1, 2]);
}

#[tokio::test]
async fn missing_input_path_is_states_runtime_and_cannot_be_caught() {
    let def = task(json!({"InputPath": "$.nope", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]}));
    let mut def = def;
    def["States"]["Caught"] = json!({"Type": "Succeed"});
    let inv = Recorder::echo();
    let (d, _) = run(&def, json!({"a": 1}), inv.clone()).await;
    assert_eq!(d.status, asl::ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.as_deref().unwrap().contains("$.nope"), "{:?}", d.cause);
    assert!(inv.calls().is_empty());
}

#[tokio::test]
async fn missing_parameter_path_is_states_runtime_as_on_aws_and_cannot_be_caught() {
    let mut def = task(json!({
        "Parameters": {"x.$": "$.missing"},
        "Catch": [{"ErrorEquals": ["States.ParameterPathFailure"], "Next": "Caught", "ResultPath": "$.err"}]
    }));
    def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    let (d, _) = run(&def, json!({"a": 1}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
    assert!(d.cause.as_deref().unwrap().contains("$.missing"), "{:?}", d.cause);
}

#[tokio::test]
async fn result_path_into_a_non_object_is_result_path_match_failure() {
    let def = task(json!({"ResultPath": "$.a.b"}));
    let (d, _) = run(&def, json!({"a": "text"}), Recorder::echo()).await;
    assert_eq!(d.status, asl::ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("States.ResultPathMatchFailure"));
}

#[tokio::test]
async fn missing_output_path_is_states_runtime() {
    let (d, _) = run(&pass(json!({"OutputPath": "$.nope"})), json!({"a": 1}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn history_is_shaped_like_get_execution_history() {
    let (d, history) = run(&task(json!({})), json!({"in": 1}), Recorder::new(|_, _, _| Ok(json!({"out": 2})))).await;
    output(&d);
    assert_eq!(
        types(&history),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in history.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert_eq!(e.previous_event_id, i as u64);
    }
    let entered = serde_json::to_value(&history[1]).unwrap();
    assert_eq!(entered["type"], json!("TaskStateEntered"));
    assert_eq!(entered["previousEventId"], json!(1));
    assert_eq!(entered["stateEnteredEventDetails"]["name"], json!("T"));
    assert_eq!(entered["stateEnteredEventDetails"]["input"], json!("{\"in\":1}"));
    assert_eq!(history[2].detail_str("parameters"), Some("{\"in\":1}"));
    assert_eq!(history[4].detail_str("output"), Some("{\"out\":2}"));
    assert_eq!(
        serde_json::to_value(&history[6]).unwrap()["executionSucceededEventDetails"]["output"],
        json!("{\"out\":2}")
    );
    let desc = serde_json::to_value(&d).unwrap();
    for field in ["executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "output"] {
        assert!(desc.get(field).is_some(), "{field} missing from {desc}");
    }
    assert_eq!(desc["status"], json!("SUCCEEDED"));
}
