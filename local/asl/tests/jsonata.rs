//! JSONata states: Arguments/Output templates, `$states`, Choice Condition, Map Items and
//! ItemSelector, Wait and Fail expressions, Catch Output, States.QueryEvaluationError and the
//! load-time refusals.

mod common;
use asl::{Definition, TaskFailure};
use common::*;
use serde_json::{json, Value};

fn load_error(def: Value) -> String {
    match Definition::parse(&def.to_string()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("should be rejected: {def}"),
    }
}

fn jsonata(states: Value, start: &str) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
}

#[tokio::test]
async fn task_arguments_and_output_use_states_input_result_and_context() {
    let def = jsonata(
        json!({"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
            "Arguments": {"n": "{% $states.input.x * 2 %}", "fixed": "$.not.a.path", "list": ["{% $states.input.x %}", 7],
                          "state": "{% $states.context.State.Name %}"},
            "Output": {"got": "{% $states.result.n %}", "from": "{% $states.input.x %}", "both": "{% $states.result.list %}"}
        }}),
        "T",
    );
    let rec = Recorder::new(|_, input, _| Ok(input.clone()));
    let (d, _) = run(&def, json!({"x": 21}), rec.clone()).await;
    assert_eq!(rec.calls()[0].input, json!({"n": 42, "fixed": "$.not.a.path", "list": [21, 7], "state": "T"}));
    assert_eq!(output(&d), json!({"got": 42, "from": 21, "both": [21, 7]}));
}

#[tokio::test]
async fn without_output_a_task_outputs_its_result_and_a_pass_its_input() {
    let def = jsonata(
        json!({
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true}
        }),
        "P",
    );
    let (d, _) = run(&def, json!({"a": 1}), Recorder::new(|_, _, _| Ok(json!({"r": true})))).await;
    assert_eq!(output(&d), json!({"r": true}));
}

#[tokio::test]
async fn a_whole_expression_string_gives_any_json_value() {
    let def = jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": "{% $sum($states.input.v) %}"}}), "P");
    let (d, _) = run(&def, json!({"v": [1, 2, 3.5]}), Recorder::echo()).await;
    assert_eq!(output(&d), json!(6.5));
}

#[tokio::test]
async fn choice_conditions_pick_the_first_true_rule_or_the_default() {
    let def = jsonata(
        json!({
            "C": {"Type": "Choice", "Default": "Other", "Choices": [
                {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"}},
                {"Condition": "{% $states.input.n > 5 %}", "Next": "Medium"}
            ]},
            "Big": {"Type": "Succeed"},
            "Medium": {"Type": "Pass", "End": true, "Output": "medium"},
            "Other": {"Type": "Pass", "End": true, "Output": "{% 'other ' & $string($states.input.n) %}"}
        }),
        "C",
    );
    for (n, want) in [(11, json!({"size": "big"})), (6, json!("medium")), (1, json!("other 1"))] {
        let (d, _) = run(&def, json!({"n": n}), Recorder::echo()).await;
        assert_eq!(output(&d), want, "n = {n}");
    }
}

#[tokio::test]
async fn a_condition_that_is_not_a_boolean_is_a_query_evaluation_error() {
    let def = jsonata(
        json!({
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "D"}]},
            "D": {"Type": "Succeed"}
        }),
        "C",
    );
    let (d, _) = run(&def, json!({"n": 3}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(d.cause.unwrap().contains("boolean"));
}

#[tokio::test]
async fn map_items_and_item_selector_use_the_item_context() {
    let def = jsonata(
        json!({"M": {
            "Type": "Map", "End": true,
            "Items": "{% $states.input.list[$ > 1] %}",
            "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
            "ItemProcessor": {"StartAt": "Double", "States": {
                "Double": {"Type": "Pass", "End": true, "Output": "{% $states.input.v * 10 + $states.input.i %}"}
            }},
            "Output": {"results": "{% $states.result %}"}
        }}),
        "M",
    );
    let (d, h) = run(&def, json!({"list": [1, 2, 3]}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"results": [20, 31]}));
    assert!(types(&h).contains(&"MapStateStarted".to_string()));
}

#[tokio::test]
async fn map_items_that_are_not_an_array_fail_the_state() {
    let def = jsonata(
        json!({"M": {"Type": "Map", "End": true, "Items": "{% $states.input.one %}",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}),
        "M",
    );
    let (d, _) = run(&def, json!({"one": {"a": 1}}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
}

#[tokio::test]
async fn parallel_arguments_feed_every_branch() {
    let branch = |out: &str| json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true, "Output": out}}});
    let def = jsonata(
        json!({"P": {"Type": "Parallel", "End": true, "Arguments": {"k": "{% $states.input.k + 1 %}"},
            "Branches": [branch("{% $states.input.k %}"), branch("{% $states.input.k * 3 %}")]}}),
        "P",
    );
    let (d, _) = run(&def, json!({"k": 1}), Recorder::echo()).await;
    assert_eq!(output(&d), json!([2, 6]));
}

#[tokio::test]
async fn wait_seconds_and_fail_error_cause_are_expressions() {
    let def = jsonata(
        json!({
            "W": {"Type": "Wait", "Seconds": "{% $states.input.delay %}", "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% 'Custom.' & $states.input.kind %}", "Cause": "{% 'waited ' & $string($states.input.delay) %}"}
        }),
        "W",
    );
    let (d, _) = run(&def, json!({"delay": 3, "kind": "Oops"}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("Custom.Oops"));
    assert_eq!(d.cause.as_deref(), Some("waited 3"));
}

#[tokio::test]
async fn a_negative_wait_is_a_query_evaluation_error() {
    let def = jsonata(json!({"W": {"Type": "Wait", "Seconds": "{% -1 %}", "End": true}}), "W");
    let (d, _) = run(&def, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
}

#[tokio::test]
async fn catch_output_sees_the_error_output_and_the_input() {
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H",
                    "Output": {"err": "{% $states.errorOutput.Error %}", "was": "{% $states.input.id %}"}}]},
            "H": {"Type": "Pass", "End": true}
        }),
        "T",
    );
    let rec = Recorder::new(|_, _, _| Err(TaskFailure { error: "Boom".into(), cause: "c".into() }));
    let (d, _) = run(&def, json!({"id": 9}), rec).await;
    assert_eq!(output(&d), json!({"err": "Boom", "was": 9}));
}

#[tokio::test]
async fn failing_and_undefined_expressions_are_query_evaluation_errors_that_catch_sees() {
    for (expr, needle) in [("{% $states.input.missing %}", "undefined"), ("{% $number('x') + {} %}", "error")] {
        let def = jsonata(
            json!({
                "P": {"Type": "Pass", "Output": {"v": expr}, "End": true}
            }),
            "P",
        );
        let (d, _) = run(&def, json!({}), Recorder::echo()).await;
        assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}");
        let cause = d.cause.unwrap();
        assert!(cause.contains("'P'") && cause.contains("Output/v") && cause.contains(needle), "{cause}");
    }
    let def = jsonata(
        json!({
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
                "Arguments": "{% $states.input.nothing %}",
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "H"}]},
            "H": {"Type": "Pass", "End": true, "Output": "{% $states.input.Error %}"}
        }),
        "T",
    );
    let rec = Recorder::echo();
    let (d, _) = run(&def, json!({}), rec.clone()).await;
    assert_eq!(output(&d), json!("States.QueryEvaluationError"));
    assert!(rec.calls().is_empty(), "the task must not run with undefined Arguments");
}

#[tokio::test]
async fn task_timeout_seconds_is_an_expression() {
    let def = jsonata(
        json!({"T": {"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true,
            "TimeoutSeconds": "{% $states.input.t %}"}}),
        "T",
    );
    let (d, h) = run(&def, json!({"t": 5}), Recorder::echo()).await;
    output(&d);
    let scheduled = h.iter().find(|e| e.event_type == "TaskScheduled").unwrap();
    assert_eq!(scheduled.details["taskScheduledEventDetails"]["timeoutInSeconds"], json!(5));
}

#[tokio::test]
async fn a_jsonata_state_inside_a_jsonpath_machine() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"x.$": "$.v"}, "Next": "B"},
        "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.x + 1 %}", "End": true}
    }});
    let (d, _) = run(&def, json!({"v": 1}), Recorder::echo()).await;
    assert_eq!(output(&d), json!(2));
}

#[test]
fn jsonpath_fields_and_bad_expressions_are_refused_at_load_naming_state_and_field() {
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"P": {"Type": "Pass", "End": true, "InputPath": "$.a"}}),
            &["state 'P'", "InputPath", "JSONPath field"],
        ),
        (json!({"P": {"Type": "Pass", "End": true, "Parameters": {"a.$": "$"}}}), &["state 'P'", "Parameters"]),
        (json!({"P": {"Type": "Pass", "End": true, "Result": 1}}), &["state 'P'", "Result"]),
        (
            json!({"T": {"Type": "Task", "Resource": "r", "End": true, "ResultSelector": {}}}),
            &["state 'T'", "ResultSelector"],
        ),
        (
            json!({"T": {"Type": "Task", "Resource": "r", "End": true, "TimeoutSecondsPath": "$.t"}}),
            &["state 'T'", "TimeoutSecondsPath"],
        ),
        (json!({"W": {"Type": "Wait", "End": true, "SecondsPath": "$.s"}}), &["state 'W'", "SecondsPath"]),
        (
            json!({"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": true, "Next": "C"}]}}),
            &["state 'C'", "not valid in a JSONata Choice rule (use Condition)"],
        ),
        (
            json!({"M": {"Type": "Map", "End": true, "ItemsPath": "$.a",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}),
            &["state 'M'", "ItemsPath"],
        ),
        (
            json!({"P": {"Type": "Pass", "End": true, "Output": "{% $states.input. %}"}}),
            &["state 'P'", "Output", "invalid JSONata"],
        ),
        (
            json!({"C": {"Type": "Choice", "Choices": [{"Condition": "{% ( %}", "Next": "C"}]}}),
            &["state 'C'", "Condition", "invalid JSONata"],
        ),
        (
            json!({"T": {"Type": "Task", "Resource": "r", "End": true,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "T", "ResultPath": "$.e"}]}}),
            &["state 'T'", "ResultPath", "use Output"],
        ),
        (json!({"F": {"Type": "Fail", "Error": "{% ) %}"}}), &["state 'F'", "Error"]),
    ];
    for (states, needles) in cases {
        let start = states.as_object().unwrap().keys().next().unwrap().clone();
        let e = load_error(jsonata(states, &start));
        for n in needles {
            assert!(e.contains(n), "'{e}' should mention '{n}'");
        }
    }
    let jsonpath_output = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Output": 1}}});
    assert!(load_error(jsonpath_output).contains("only valid in a state with QueryLanguage JSONata"));
}

#[tokio::test]
async fn the_functions_aws_adds_work_in_states_and_eval_is_absent() {
    let def = jsonata(
        json!({"P": {"Type": "Pass", "End": true, "Output": {
            "parts": "{% $partition([1, 2, 3, 4, 5], 2) %}",
            "hash": "{% $hash('abc', 'SHA-256') %}",
            "parsed": "{% $parse($states.input.text).a %}",
            "uuid": "{% $length($uuid()) %}"
        }}}),
        "P",
    );
    let (d, _) = run(&def, json!({"text": "{\"a\": [1, 2]}"}), Recorder::echo()).await;
    let out = output(&d);
    assert_eq!(out["parts"], json!([[1, 2], [3, 4], [5]]));
    assert_eq!(out["hash"], json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(out["parsed"], json!([1, 2]));
    assert_eq!(out["uuid"], json!(36));
    let eval = jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": "{% $eval('1 + 1') %}"}}), "P");
    let (d, _) = run(&eval, json!({}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"));
}

#[tokio::test]
async fn runaway_expressions_stop_with_a_query_evaluation_error() {
    for expr in [
        "{% $count([1..10000000].($ * 2)) %}",
        "{% ($f := function($n) { $f($n + 1) + 1 }; $f(0)) %}",
        "{% $pad('', 100000000, 'x') %}",
    ] {
        let def = jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": expr}}), "P");
        let (d, _) = run(&def, json!({}), Recorder::echo()).await;
        assert_eq!(d.error.as_deref(), Some("States.QueryEvaluationError"), "{expr}: {:?}", d.cause);
    }
}

#[test]
fn oversized_and_deeply_nested_expressions_are_load_errors() {
    let deep = format!("{{% {}1{} %}}", "(".repeat(5000), ")".repeat(5000));
    let long = format!("{{% {} %}}", "1 + ".repeat(60_000) + "1");
    for expr in [deep, long] {
        let e = load_error(jsonata(json!({"P": {"Type": "Pass", "End": true, "Output": {"x": [expr]}}}), "P"));
        assert!(e.contains("state 'P'") && e.contains("Output"), "{e}");
    }
}
