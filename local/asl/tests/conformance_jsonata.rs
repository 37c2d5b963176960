//! Conformance with AWS's documentation for JSONata states and workflow variables: each test
//! names the page its definition and expectation come from, and runs it through the engine.

mod common;
use common::*;
use serde_json::{json, Value};

const LAMBDA: &str = "arn:aws:lambda:local:000000000000:function:f";

fn jsonata(states: Value, start: &str) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
}

/// The `EvaluationFailed` events of a history, as their details.
fn evaluation_failures(history: &[asl::HistoryEvent]) -> Vec<Value> {
    history.iter().filter(|e| e.event_type == "EvaluationFailed").filter_map(|e| e.detail().cloned()).collect()
}

// https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html
// "To set variables, provide a JSON object with variable names and values":
// "Assign": {"productName": "product1", "count": 42, "available": true}; referenced as $productName.
#[tokio::test]
async fn workflow_variables_page_assign_example_is_read_back_by_name() {
    let def = jsonata(
        json!({
            "Set": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": true}, "Next": "Use"},
            "Use": {"Type": "Pass", "End": true, "Output": {"name": "{% $productName %}", "count": "{% $count %}", "available": "{% $available %}"}}
        }),
        "Set",
    );
    let (d, history) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"name": "product1", "count": 42, "available": true}));
    let exited = history.iter().find(|e| e.event_type == "PassStateExited").and_then(|e| e.detail()).cloned();
    assert_eq!(
        exited.map(|d| d["assignedVariables"].clone()),
        Some(json!({"productName": "\"product1\"", "count": "42", "available": "true"}))
    );
}

// https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html ("Reserved
// variable: $states"): $states = {input, result (if successful), errorOutput (only in a Catch),
// context}; $states.input always refers to the original state input.
#[tokio::test]
async fn reserved_states_variable_holds_input_result_and_error_output() {
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"v": "{% $states.input.v + 1 %}"},
                  "Output": {"input": "{% $states.input %}", "result": "{% $states.result %}", "name": "{% $states.context.State.Name %}"},
                  "Next": "F"},
            "F": {"Type": "Task", "Resource": "fail", "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done",
                             "Output": {"caught": "{% $states.errorOutput.Error %}", "before": "{% $states.input.result %}"}}]},
            "Done": {"Type": "Succeed"}
        }),
        "T",
    );
    let rec = Recorder::new(|resource, input, _| {
        if resource == "fail" {
            Err(asl::TaskFailure { error: "Boom".into(), cause: "it broke".into() })
        } else {
            Ok(json!({"got": input["v"]}))
        }
    });
    let (d, _) = run(&def, json!({"v": 1}), rec).await;
    assert_eq!(output(&d), json!({"caught": "Boom", "before": {"got": 2}}));
}

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_EvaluationFailedEventDetails.html
// "Contains details about an evaluation failure that occurred while processing a state, for
// example, when a JSONata expression throws an error": state (required), error, cause, location.
// botocore's HistoryEventType lists "EvaluationFailed" with evaluationFailedEventDetails.
#[tokio::test]
async fn a_failing_expression_is_reported_by_an_evaluation_failed_event_before_the_failure() {
    let def = jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": {"n": "{% $states.input.a / 'x' %}"}}}), "P");
    let (d, history) = run(&def, json!({"a": 1}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    let failures = evaluation_failures(&history);
    assert_eq!(failures.len(), 1, "{:?}", types(&history));
    assert_eq!(failures[0]["state"], "P");
    assert_eq!(failures[0]["error"], "States.QueryEvaluationError");
    assert_eq!(failures[0]["location"], "Output/n");
    assert_eq!(failures[0]["cause"].as_str(), d.cause.as_deref());
    let kinds = types(&history);
    let at = kinds.iter().position(|t| t == "EvaluationFailed");
    assert_eq!(at.map(|i| kinds[i + 1].as_str()), Some("ExecutionFailed"), "{kinds:?}");
}

// Same page: the event comes before the error handling; a Catch of States.ALL takes the error
// (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html lists
// States.QueryEvaluationError among the errors States.ALL matches).
#[tokio::test]
async fn a_caught_evaluation_error_is_reported_once_then_handled() {
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": LAMBDA, "Arguments": {"n": "{% $states.input.missing %}"}, "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled", "Assign": {"why": "{% $states.errorOutput.Error %}"}}]},
            "Handled": {"Type": "Pass", "End": true, "Output": "{% $why %}"}
        }),
        "T",
    );
    let rec = Recorder::echo();
    let (d, history) = run(&def, json!({}), rec.clone()).await;
    assert_eq!(output(&d), json!("States.QueryEvaluationError"));
    assert!(rec.calls().is_empty(), "the task must not run");
    let failures = evaluation_failures(&history);
    assert_eq!(failures.len(), 1);
    assert_eq!((failures[0]["state"].as_str(), failures[0]["location"].as_str()), (Some("T"), Some("Arguments/n")));
    let kinds = types(&history);
    let (failed, exited) =
        (kinds.iter().position(|t| t == "EvaluationFailed"), kinds.iter().position(|t| t == "TaskStateExited"));
    assert!(failed < exited, "{kinds:?}");
}

// An error inside a Parallel branch is reported by the branch state that evaluated it, not
// again by the Parallel state it fails.
#[tokio::test]
async fn an_evaluation_error_in_a_branch_is_reported_by_the_branch_state_only() {
    let def = jsonata(
        json!({"Par": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": true, "Output": "{% $undefinedThing %}"}}}
        ]}}),
        "Par",
    );
    let (d, history) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    let failures = evaluation_failures(&history);
    assert_eq!(failures.len(), 1, "{:?}", types(&history));
    assert_eq!(failures[0]["state"], "Inner");
    assert_eq!(failures[0]["location"], "Output");
}

// https://docs.aws.amazon.com/step-functions/latest/dg/state-choice.html: a JSONata rule's
// Condition must evaluate to a boolean; anything else is States.QueryEvaluationError.
#[tokio::test]
async fn a_choice_condition_that_is_not_boolean_is_reported_at_condition() {
    let def = jsonata(
        json!({"C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "S"}], "Default": "S"},
               "S": {"Type": "Succeed"}}),
        "C",
    );
    let (d, history) = run(&def, json!({"n": 3}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    let failures = evaluation_failures(&history);
    assert_eq!((failures.len(), failures[0]["location"].as_str()), (1, Some("Condition")));
}

// https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html (functions provided
// by Step Functions: $partition, $range, $hash, $random, $uuid, $parse), with the examples as
// quoted in https://dev.classmethod.jp/articles/aws-step-functions-jsonata-unsupported-function:
// $partition([1..9], 3) is [[1,2,3],[4,5,6],[7,8,9]], $range(0, 10, 2) is [0,2,4,6,8,10],
// $hash(text, 'SHA-256') a hex digest, $random(seed) the same for the same seed, $uuid() a v4 UUID.
#[tokio::test]
async fn step_functions_provided_functions_assign_the_documented_values() {
    let def = jsonata(
        json!({
            "Set": {"Type": "Pass", "Next": "Show", "Assign": {
                "arrayPartition": "{% $partition([1, 2, 3, 4, 5, 6, 7, 8, 9], 3) %}",
                "evenNumbers": "{% $range(0, 10, 2) %}",
                "contentHash": "{% $hash($states.input.content, 'SHA-256') %}",
                "randSeeded": "{% $random($states.input.seed) %}",
                "randSeededAgain": "{% $random($states.input.seed) %}",
                "requestId": "{% $uuid() %}",
                "parsed": "{% $parse($states.input.json) %}"
            }},
            "Show": {"Type": "Pass", "End": true, "Output": {
                "arrayPartition": "{% $arrayPartition %}", "evenNumbers": "{% $evenNumbers %}",
                "contentHash": "{% $contentHash %}", "sameSeedSameNumber": "{% $randSeeded = $randSeededAgain %}",
                "inUnitInterval": "{% $randSeeded >= 0 and $randSeeded < 1 %}", "requestId": "{% $requestId %}",
                "parsed": "{% $parsed %}"
            }}
        }),
        "Set",
    );
    let input = json!({"content": "hello world", "seed": 42, "json": "{\"a\": [1, {\"b\": null}]}"});
    let (d, _) = run(&def, input, Recorder::echo()).await;
    let out = output(&d);
    assert_eq!(out["arrayPartition"], json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]));
    assert_eq!(out["evenNumbers"], json!([0, 2, 4, 6, 8, 10]));
    // sha256("hello world"), as computed by Python's hashlib.
    assert_eq!(out["contentHash"], "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    assert_eq!((out["sameSeedSameNumber"].clone(), out["inUnitInterval"].clone()), (json!(true), json!(true)));
    let id = out["requestId"].as_str().unwrap_or_default();
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
    assert!(id.as_bytes()[14] == b'4', "version 4: {id}");
    assert_eq!(out["parsed"], json!({"a": [1, {"b": null}]}));
}

// botocore's model: EvaluationFailureLocation is at most 256 characters; a field path deeper than
// that (a long key in a nested template) is cut to 256 characters.
#[tokio::test]
async fn the_evaluation_failed_location_stays_within_the_api_limit() {
    let key = "é".repeat(300);
    let def =
        jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": {"a": {key.clone(): "{% $nothing %}"}}}}), "P");
    let (d, history) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    let failures = evaluation_failures(&history);
    let location = failures[0]["location"].as_str().unwrap_or_default();
    assert_eq!(location.chars().count(), 256);
    assert!(location.starts_with("Output/a/éé"), "{location}");
}

// The cause AWS gives for an expression that returns nothing, as recorded from real AWS in
// https://github.com/floci-io/floci/issues/2665 (state 'E' entered at event #2, Output {"v": …}):
// "An error occurred while executing the state 'E' (entered at the event id #2). The JSONata
// expression '$states.input.missing' specified for the field 'Output/v' returned nothing (undefined)."
#[tokio::test]
async fn an_undefined_result_has_the_cause_text_aws_gives() {
    let def = jsonata(json!({"E": {"Type": "Pass", "End": true, "Output": {"v": "{% $states.input.missing %}"}}}), "E");
    let (d, _) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        d.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'E' (entered at the event id #2). The JSONata expression \
             '$states.input.missing' specified for the field 'Output/v' returned nothing (undefined)."
        )
    );
    let assign =
        jsonata(json!({"E": {"Type": "Pass", "End": true, "Assign": {"x": "{% $states.input.missing %}"}}}), "E");
    let (d, _) = run(&assign, json!({}), Recorder::echo()).await;
    assert!(
        d.cause.as_deref().unwrap_or_default().contains("specified for the field 'Assign/x' returned nothing"),
        "{:?}",
        d.cause
    );
}
