//! Invalid definitions are rejected at load with a message naming the problem; substitutions.

use asl::{Definition, DefinitionError, Problem};
use serde_json::{json, Value};
use std::collections::HashMap;

fn err(def: Value) -> String {
    match Definition::parse(&def.to_string()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("should be rejected: {def}"),
    }
}

fn one(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state, "End": {"Type": "Succeed"}}})
}

#[test]
fn each_invalid_definition_names_its_problem() {
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"States": {"A": {"Type": "Succeed"}}}), &["StartAt", "required"]),
        (json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}), &["StartAt 'X'"]),
        (json!({"StartAt": "A", "States": {}}), &["States", "empty"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Teleport"}}}),
            &["state 'A'", "unknown state Type 'Teleport'"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"End": true}}}), &["state 'A'", "'Type' is required"]),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}), &["state 'A'", "'Nowhere'"]),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}), &["state 'A'", "'Next' or 'End'"]),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Next": "A"}}}), &["state 'A'", "both"]),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "End": true}}}), &["state 'A'", "'End'"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Succeed"}}}),
            &["'B'", "not reachable"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}), &["state 'A'", "Resource"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}),
            &["state 'A'", "Retry[0]", "States.ALL", "last"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}}}),
            &["state 'A'", "alone"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]}}}),
            &["Catch[0]", "States.ALL"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["X"], "Next": "Gone"}]}}}),
            &["state 'A'", "'Gone'"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}}}),
            &["BackoffRate"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}}}),
            &["IntervalSeconds"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}]}}}),
            &["JitterStrategy"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": [{"ErrorEquals": []}]}}}),
            &["ErrorEquals"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "TimeoutSeconds": 0}}}),
            &["TimeoutSeconds"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}), &["state 'A'", "Choices"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": "y"}]}}}),
            &["Choices[0]", "Next"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringEquals": 1, "Next": "A"}]}}}),
            &["StringEquals", "string"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "StringFuzzy": "y", "Next": "A"}]}}}),
            &["unknown Choice operator 'StringFuzzy'"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "TimestampEquals": "noon", "Next": "A"}]}}}),
            &["TimestampEquals"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$.x", "IsNull": true, "Next": "A"}, "Next": "A"}]}}}),
            &["nested"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "A"}], "Default": "Z"}}}),
            &["'Z'"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": true}}}), &["state 'A'", "Seconds"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Timestamp": "2024-01-01T00:00:00Z", "End": true}}}),
            &["exactly one"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}}}),
            &["Error", "ErrorPath"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": []}}}), &["Branches"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "X", "States": {"Y": {"Type": "Succeed"}}}]}}}),
            &["branch 0", "StartAt 'X'"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}}), &["ItemProcessor"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Outer"}}}}}}),
            &["'Outer'"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "B", "States": {"B": {"Type": "Succeed"}}}}}}),
            &["DISTRIBUTED"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}}),
            &["ResultPath", "Reference Path"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "a.b"}}}),
            &["InputPath", "must start with '$'"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": 5}}}}), &["'x.$'"]),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "hello"}}}}),
            &["'x.$'", "neither"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultSelector": {}}}}),
            &["'ResultSelector' is not valid in a Pass state"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Assign": {"x-y": 1}}}}),
            &["state 'A'", "Assign", "'x-y' is not a valid variable name"],
        ),
        (json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Typo": 1}}}), &["'Typo'"]),
        (
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "QueryLanguage": "JSONPath"}}}),
            &["state 'A'", "JSONPath is not allowed inside a JSONata state machine"],
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "QueryLanguage": "XPath"}}}),
            &["state 'A'", "QueryLanguage must be"],
        ),
        (
            json!({"StartAt": "A", "TimeoutSeconds": -1, "States": {"A": {"Type": "Pass", "End": true}}}),
            &["TimeoutSeconds"],
        ),
        (json!([1, 2]), &["JSON object"]),
    ];
    let mut problems = Vec::new();
    for (def, needles) in cases {
        let e = err(def.clone());
        if !needles.iter().all(|n| e.contains(n)) {
            problems.push(format!("{def}\n  -> {e}\n  should mention {needles:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn json_errors_are_reported_as_such() {
    let e = Definition::parse("{\"StartAt\": ").unwrap_err();
    assert!(matches!(e, DefinitionError::Json(_)), "{e:?}");
    assert!(e.to_string().contains("not valid JSON"));
}

#[test]
fn valid_definitions_parse() {
    let def = one(json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Next": "End",
        "Retry": [{"ErrorEquals": ["A"], "IntervalSeconds": 2, "MaxAttempts": 0, "BackoffRate": 1.5, "MaxDelaySeconds": 9, "JitterStrategy": "NONE"},
                  {"ErrorEquals": ["States.ALL"]}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "End", "ResultPath": "$.error"}],
        "HeartbeatSeconds": 10, "TimeoutSeconds": 30, "Comment": "c", "QueryLanguage": "JSONPath"}));
    Definition::parse(&def.to_string()).unwrap();
}

#[test]
fn substitutions_fill_placeholders_and_reject_unknown_names() {
    let text = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${ValidateArn}", "End": true}}}"#;
    let mut values = HashMap::new();
    values.insert("ValidateArn".to_string(), "arn:aws:lambda:local:0:function:validate".to_string());
    let filled = Definition::substitute(text, &values).unwrap();
    assert!(filled.contains("\"arn:aws:lambda:local:0:function:validate\""));
    Definition::parse(&filled).unwrap();
    let e = Definition::substitute(text, &HashMap::new()).unwrap_err();
    assert!(matches!(&e, DefinitionError::Substitution(m) if m.contains("${ValidateArn}")), "{e}");
}

#[test]
fn problems_are_typed_with_the_state_and_the_field() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
        "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}}});
    match Definition::parse(&def.to_string()) {
        Err(DefinitionError::Invalid(Problem::State { state, field, message })) => {
            assert_eq!((state.as_str(), field.as_deref()), ("A", Some("Retry[0]")));
            assert!(message.contains("BackoffRate"), "{message}");
        }
        other => panic!("expected a state problem, got {other:?}"),
    }
    let nested = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true, "InputPath": "nope"}}}]}}});
    match Definition::parse(&nested.to_string()) {
        Err(DefinitionError::Invalid(Problem::Nested { state, part, problem })) => {
            assert_eq!((state.as_str(), part.as_str()), ("P", "branch 0"));
            let Problem::State { state, field, .. } = *problem else { panic!("{problem:?}") };
            assert_eq!((state.as_str(), field.as_deref()), ("B", Some("InputPath")));
        }
        other => panic!("expected a nested problem, got {other:?}"),
    }
}
